# A fresh Debian root for CI, shared by .ci/in-root and .ci/package.
# Sourced.  root_create SUITE makes one (minbase, as the debian:N images:
# no locale, no compiler) in a new directory, sets ROOT, and arranges for
# every mount to be undone and the root removed on every exit path;
# root_run runs a command in it under an empty environment.

ROOT=

root_cleanup() {
	[ -n "$ROOT" ] || return 0
	for m in "$ROOT/dev" "$ROOT/proc" "$ROOT/sys"; do
		if mountpoint -q "$m"; then
			umount -R "$m" 2>/dev/null || umount -lR "$m"
		fi
	done
	rm -rf --one-file-system "$ROOT"
}

# SUITE: bookworm, trixie, forky, or experimental (sid, whose sources also
# list experimental).
root_create() {
	local suite=$1 base=$1 script=()
	[ "$suite" = experimental ] && base=sid
	ROOT=$(mktemp -d "/tmp/session-root-$suite.XXXXXX")
	trap root_cleanup EXIT
	# the root directory of the new system: every user must reach /bin
	chmod 755 "$ROOT"
	echo "== $suite: making a fresh root in $ROOT"
	# bookworm's debootstrap has no script for testing: sid's serves
	if [ ! -e "/usr/share/debootstrap/scripts/$base" ]; then
		script=(/usr/share/debootstrap/scripts/sid)
	fi
	# the mirrors this host's apt sources name (or SESSION_APT_MIRROR and
	# SESSION_APT_SECURITY_MIRROR): none is written here
	local mirrors mirror security
	mirrors=$(python3 scripts/apt-mirror) || return 1
	mirror=$(sed -n 1p <<<"$mirrors")
	security=$(sed -n 2p <<<"$mirrors")
	echo "== $suite: from $mirror${security:+ and $security}"
	debootstrap --variant=minbase "$base" "$ROOT" "$mirror" "${script[@]}" \
		>"$ROOT.debootstrap.log" 2>&1 || { cat "$ROOT.debootstrap.log"; return 1; }
	rm -f "$ROOT.debootstrap.log"
	# testing's Release file may read as expired; no service may start
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99session-ci"
	printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
	chmod +x "$ROOT/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	# the certificate authorities the host adds to Debian's (a TLS proxy's,
	# as CI farms run): a root that installs ca-certificates trusts them too
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		mkdir -p "$ROOT/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
	fi
	# a stable release, as installed: with its security and updates suites
	case $suite in
	bookworm | trixie)
		echo "deb $mirror $suite-updates main" >"$ROOT/etc/apt/sources.list.d/stable-updates.list"
		if [ -n "$security" ]; then
			echo "deb $security $suite-security main" >>"$ROOT/etc/apt/sources.list.d/stable-updates.list"
		fi
		;;
	esac
	if [ "$suite" = experimental ]; then
		echo "deb $mirror experimental main" \
			>"$ROOT/etc/apt/sources.list.d/experimental.list"
	fi
	mount -t proc proc "$ROOT/proc"
	mount --rbind /dev "$ROOT/dev"
	mount --make-rslave "$ROOT/dev"
	mount -t sysfs sys "$ROOT/sys"
}

# root_run [NAME=VALUE...] -- COMMAND: COMMAND (a bash script) as root in
# the root, with only the given variables set.
root_run() {
	local vars=()
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	chroot "$ROOT" /usr/bin/env -i HOME=/root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		"${vars[@]}" /bin/bash -c "$1"
}
