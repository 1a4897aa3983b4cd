# Shared by scripts/test, scripts/demo and bench/: root check, the
# PostgreSQL major, packages, build.  Sourced, not run; call
# require_root, then choose_pg_major, before the rest.

require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: run as root: it installs packages and the extension" >&2
		exit 1
	fi
}

# The PostgreSQL major to build and test with: PG_MAJOR if set (any major
# this distribution's mirror has), else the one the distribution ships,
# which its "postgresql" package depends on (15 on Debian 12, 17 on 13, 18
# on testing).  Sets PG_MAJOR, PG_BINDIR and PG_CONFIG (exported).
choose_pg_major() {
	if [ -z "${PG_MAJOR:-}" ]; then
		if ! apt-cache show postgresql >/dev/null 2>&1; then
			apt-get update -q >/dev/null
		fi
		PG_MAJOR=$(apt-cache show postgresql 2>/dev/null |
			sed -n 's/^Depends:.*postgresql-\([0-9][0-9]*\).*/\1/p' | head -n 1)
		if [ -z "$PG_MAJOR" ]; then
			echo "$0: cannot tell which PostgreSQL this distribution ships; set PG_MAJOR" >&2
			exit 1
		fi
	fi
	PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
	PG_CONFIG=$PG_BINDIR/pg_config
	export PG_MAJOR PG_CONFIG
	echo "== PostgreSQL $PG_MAJOR"
}

# The server and its headers for PG_MAJOR, named as apt must be given them.
# A major only Debian experimental has (19, on a sid root whose sources
# list experimental) is installed by release, with the client and libpq
# from there too: apt takes nothing from experimental unless told, and
# "-t experimental" would drag in an uninstallable perl.
pg_server_packages() {
	local pkgs=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR")
	if ! package_exists "postgresql-$PG_MAJOR"; then
		apt-get update -q >/dev/null
	fi
	if apt-cache madison "postgresql-$PG_MAJOR" | grep -q ' experimental/' &&
		! apt-cache madison "postgresql-$PG_MAJOR" | grep -vq ' experimental/'; then
		pkgs+=("postgresql-client-$PG_MAJOR" libpq-dev libpq5)
		pkgs=("${pkgs[@]/%//experimental}")
	fi
	echo "${pkgs[@]}"
}

# Whether the distribution has a package of that name (after an update).
package_exists() {
	apt-cache show "$1" >/dev/null 2>&1
}

# Run a command as the postgres user from /, which it can always enter
# (from root's directory it would warn "could not change directory").
# Every path given to it must be absolute.
as_postgres() {
	(cd / && runuser -u postgres -- "$@")
}

# Install whichever of the named Debian packages are missing.  A name may
# carry a release (postgresql-19/experimental).
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "${p%/*}" 2>/dev/null | grep -q 'install ok installed' ||
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
