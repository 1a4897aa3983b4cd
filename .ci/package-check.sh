# Run inside the fresh root by .ci/package: install the package, prove the
# root has no compiler, and take one session through its life on a server
# with the library preloaded.  Exits non-zero at the first thing wrong.
set -euo pipefail

apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	/root/dist/postgresql-*-session_*.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
dpkg-query -W -f='== installed ${Package} ${Version}\n' 'postgresql-*-session'
for cc in cc gcc clang make; do
	if command -v "$cc" >/dev/null; then
		echo "== this root was to have no compiler, but has $cc" >&2
		exit 1
	fi
done
echo "== no compiler (cc, gcc, clang, make) in this root"

bindir=$(ls -d /usr/lib/postgresql/*/bin | head -n 1)
data=/tmp/pgdata
install -d -o postgres -m 700 "$data"
cd /
runuser -u postgres -- "$bindir/initdb" -D "$data" -E UTF8 --locale=C -A trust >/dev/null
cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '/tmp'
shared_preload_libraries = 'session'
CONF
runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l /tmp/pg.log -w start >/dev/null
trap 'runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -m fast stop >/dev/null' EXIT

q() {
	runuser -u postgres -- "$bindir/psql" -h /tmp -X -At -v ON_ERROR_STOP=1 -d postgres -c "$1"
}
expect() {
	local got
	got=$(q "$2")
	if [ "$got" != "$3" ]; then
		echo "== $1: expected '$3', got '$got'" >&2
		exit 1
	fi
	echo "== $1: $got"
}

# The versions the source tree's control files name (copied beside this
# script by .ci/package), so a release never has to edit this check.
default_version() {
	sed -n "s/^default_version = '\(.*\)'$/\1/p" "/root/$1.control"
}

q 'CREATE EXTENSION session' >/dev/null
expect 'extension version' "SELECT extversion FROM pg_extension WHERE extname = 'session'" "$(default_version session)"
tok=$(q "SELECT session_create('alice', '{\"cart\": []}')")
expect 'token length' "SELECT length('$tok')" 76
expect 'touch' "SELECT user_id || ' ' || data::text FROM session_touch('$tok')" 'alice {"cart": []}'
expect 'merge' "SELECT session_merge('$tok', '{\"role\": \"admin\"}')::text" '{"cart": [], "role": "admin"}'
new=$(q "SELECT session_regenerate('$tok')")
expect 'old token after regenerate' "SELECT count(*) FROM session_touch('$tok')" 0
expect 'new token keeps the data' "SELECT data->>'role' FROM session_touch('$new')" admin
expect 'destroy' "SELECT session_destroy('$new')" t
expect 'destroyed token' "SELECT count(*) FROM session_touch('$new')" 0
expect 'routed to shard 3 of 4' "SELECT session_shard_hash(session_create()) & 3 FROM (SELECT set_config('session.shards', '4', false), set_config('session.shard', '3', false)) s" 3
expect 'session_proxy packaged' "SELECT default_version FROM pg_available_extensions WHERE name = 'session_proxy'" "$(default_version session_proxy)"
expect 'prune launcher running' "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'session prune launcher'" 1
echo "== the package works"
