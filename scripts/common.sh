# Shared by scripts/test and scripts/demo: root check, packages, build.
# Sourced, not run.

PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config
export PG_CONFIG

require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: run as root: it installs packages and the extension" >&2
		exit 1
	fi
}

# Run a command as the postgres user from /, which it can always enter
# (from root's directory it would warn "could not change directory").
# Every path given to it must be absolute.
as_postgres() {
	(cd / && runuser -u postgres -- "$@")
}

# Install whichever of the named Debian packages are missing.
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "== installing ${missing[*]}"
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

# Build with warnings as errors and install into the server's directories.
build_and_install() {
	echo "== building"
	make -s clean
	make -s COPT=-Werror
	make -s install
}
