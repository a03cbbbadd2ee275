# Throwaway PostgreSQL clusters, for scripts/test and scripts/demo (sourced,
# not run). Installs Debian's postgresql package when no server binaries are
# found, makes a temporary folder ($work), and stops and removes everything
# it started when the calling script exits.
#
# After sourcing: $bin (the PostgreSQL binaries), $work, run_as (the command
# prefix that runs a server as the postgres account when we are root),
# start_cluster NAME OPTIONS..., free_port, install_packages PACKAGES...

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
install_packages() {
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bin=$(find_pg_bin)
if [ -z "$bin" ]; then
    echo "No PostgreSQL binaries found; installing Debian's postgresql package" >&2
    install_packages postgresql
    bin=$(find_pg_bin)
fi

work=$(mktemp -d "/tmp/${PANTRY_WORK_PREFIX:-pantry}.XXXXXX")
chmod 755 "$work"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    # initdb, postgres and pgbouncer refuse to run as root: use the postgres account.
    chown postgres "$work"
    run_as=(runuser -u postgres --)
fi
started=()
cleanup() {
    [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
    for data in "${started[@]}"; do
        "${run_as[@]}" "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_cluster NAME EXTRA_POSTGRES_OPTIONS...: initdb and start, trust auth.
start_cluster() {
    local name=$1; shift
    "${run_as[@]}" "$bin/initdb" -D "$work/$name" -U postgres -A trust >/dev/null
    "${run_as[@]}" "$bin/pg_ctl" -D "$work/$name" -l "$work/$name.log" -w \
        -o "-k $work -c fsync=off -c max_connections=200 $*" start >/dev/null
    started+=("$work/$name")
}
