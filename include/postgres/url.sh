#!/usr/bin/env bash
# Print the SQLAlchemy URL of DATABASE on this checkout's server (after up.sh), for
# [database] sql_alchemy_conn:  include/postgres/url.sh DATABASE

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 1 && $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "usage: url.sh DATABASE"
load_settings
[[ -r $PASSWORD_FILE ]] || die "no $PASSWORD_FILE; run include/postgres/up.sh first"
echo "postgresql+psycopg2://$ROLE:$(<"$PASSWORD_FILE")@127.0.0.1:$PORT/$1"
