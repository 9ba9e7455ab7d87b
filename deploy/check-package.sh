#!/usr/bin/env bash
# Checks the aegis Debian package end to end on THIS machine. It installs the package, checks it,
# upgrades it, removes it and purges it. Run it as root in a disposable container or VM (see
# deploy/README.md, Debian package):
#
#   sudo deploy/check-package.sh [--keep] [PATH.deb]
#
# PATH.deb defaults to the newest target/debian/aegis_*_*.deb (build it with `cargo deb`).
# The script starts only from a clean machine: no aegis package installed, no user aegis, no
# /etc/aegis, /var/lib/aegis or /var/log/aegis. It therefore never touches a real installation.
# At the end it deletes what purge deliberately keeps (the test database in /var/lib/aegis and
# the user aegis), so that it can run again. --keep leaves them for inspection.
#
# Steps: dpkg -c (the files, their modes, the conffiles, Depends); dpkg -i (the user, owners and
# modes, the unit and systemd-analyze verify, not enabled, not started, aegis --version,
# `config check` as the service user with the empty secrets file and then with test credentials);
# dpkg -i again as an upgrade (postinst migrates the database as aegis, keeps the edited secrets
# and their mode); an upgrade whose migration fails (dpkg reports it, `dpkg --configure -a`
# finishes after the fix); dpkg -r; dpkg -P; and a report of what is left. Each check prints one PASS or
# FAIL line. The exit status is 1 when any check failed and 2 on a usage error.
#
# systemd need not be running (a container): the maintainer scripts guard every systemctl call,
# as debhelper's do. systemd-analyze verify and systemctl is-enabled work offline.
# SC2016: the single-quoted `bash -c '…'` bodies expand in the child, on purpose.
# SC2012: ls -t picks the newest .deb; the names are cargo-deb's (no odd characters).
# shellcheck disable=SC2016,SC2012
set -euo pipefail

keep=0
deb=""
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        -h|--help) awk 'NR > 1 && /^# SC2016/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        -*) echo "unknown option $arg" >&2; exit 2 ;;
        *) deb=$arg ;;
    esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$deb" ]; then
    deb=$(ls -t "$repo"/target/debian/aegis_*_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$deb" ] || { echo "no target/debian/aegis_*_*.deb: build it with 'cargo deb' or pass its path" >&2; exit 2; }
fi
[ -f "$deb" ] || { echo "$deb: no such file" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (it installs the package with dpkg -i)" >&2; exit 2; }

UNIT=/lib/systemd/system/aegis.service
failures=0
pass() { printf 'PASS  %s\n' "$1"; }
fail() { printf 'FAIL  %s\n' "$1"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: PASS when the command succeeds.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
# check_stat PATH OWNER:GROUP MODE
check_stat() {
    local got
    got=$(stat -c '%U:%G %a' "$1" 2>/dev/null || echo "missing")
    if [ "$got" = "$2 $3" ]; then pass "$1 is $2 $3"; else fail "$1 is $2 $3 (found: $got)"; fi
}
section() { printf '\n== %s\n' "$1"; }
no_aegis_process() {
    local exe
    for exe in /proc/[0-9]*/exe; do
        [ "$(readlink "$exe" 2>/dev/null)" = /usr/bin/aegis ] && return 1
    done
    return 0
}
not_enabled() {
    # No enablement symlink anywhere under /etc/systemd/system, and systemctl (offline) agrees.
    ! find /etc/systemd/system -name aegis.service -path '*.wants/*' 2>/dev/null | grep -q . &&
        ! systemctl is-enabled --quiet aegis.service 2>/dev/null
}
# The paths the package creates or keeps, for the reports.
leftovers() {
    local p
    for p in /usr/bin/aegis /usr/sbin/aegis-as-service "$UNIT" /etc/systemd/system/aegis.service \
        /etc/aegis /var/log/aegis /var/lib/aegis /usr/share/doc/aegis; do
        if [ -e "$p" ] || [ -L "$p" ]; then
            printf '      %-40s %s\n' "$p" "$(stat -c '%U:%G %a %F' "$p")$( [ -L "$p" ] && printf ' -> %s' "$(readlink "$p")")"
        fi
    done
    if getent passwd aegis >/dev/null; then printf '      user %s\n' "$(getent passwd aegis)"; fi
    printf '      dpkg status: %s\n' "$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' aegis 2>/dev/null || echo 'not known to dpkg')"
}

section "package $deb"
# dpkg status abbreviation: desired, current, error ("ii ", "rc ", "un " when purged).
dpkg_status() { dpkg-query -W -f='${db:Status-Abbrev}' aegis 2>/dev/null | tr -d ' ' || true; }
st=$(dpkg_status)
if [ -n "$st" ] && [ "${st:1:1}" != n ]; then
    echo "aegis is installed or half-installed on this machine (dpkg status '$st'): this check needs a clean machine" >&2
    exit 2
fi
for p in /etc/aegis /var/lib/aegis /var/log/aegis; do
    [ ! -e "$p" ] || { echo "$p exists: this check needs a clean machine (it never deletes an installation's data)" >&2; exit 2; }
done
if getent passwd aegis >/dev/null || getent group aegis >/dev/null; then
    echo "the user or group aegis exists: this check needs a clean machine" >&2
    exit 2
fi

listing=$(dpkg -c "$deb")
version=$(dpkg-deb -f "$deb" Version)
for f in ./usr/bin/aegis ./usr/sbin/aegis-as-service ./usr/lib/systemd/system/aegis.service \
    ./etc/aegis/aegis.toml ./etc/aegis/aegis.env ./etc/aegis/schedules/pipeline.toml \
    ./etc/aegis/schedules/holidays.toml ./etc/aegis/schedules/us_holidays.toml ./usr/share/doc/aegis/README.md \
    ./usr/share/doc/aegis/deploy/README.md ./usr/share/doc/aegis/copyright; do
    check "dpkg -c lists $f" grep -qE " $f\$" <<<"$listing"
done
check "dpkg -c: aegis.env is -rw------- root/root in the archive" grep -qE '^-rw------- root/root .* \./etc/aegis/aegis\.env$|^-rw------- 0/0 .* \./etc/aegis/aegis\.env$' <<<"$listing"
check "dpkg -c: /usr/bin/aegis is executable" grep -qE '^-rwxr-xr-x .* \./usr/bin/aegis$' <<<"$listing"
conffiles=$(dpkg-deb -I "$deb" conffiles)
for f in /etc/aegis/aegis.toml /etc/aegis/aegis.env /etc/aegis/schedules/pipeline.toml /etc/aegis/schedules/holidays.toml /etc/aegis/schedules/us_holidays.toml; do
    check "conffile $f" grep -qx "$f" <<<"$conffiles"
done
check "Depends names adduser (and \$auto's libc6): $(dpkg-deb -f "$deb" Depends)" \
    bash -c '[[ "$(dpkg-deb -f "$1" Depends)" == *adduser* && "$(dpkg-deb -f "$1" Depends)" == *libc6* ]]' _ "$deb"
check "Section $(dpkg-deb -f "$deb" Section), Priority $(dpkg-deb -f "$deb" Priority)" \
    bash -c '[ "$(dpkg-deb -f "$1" Priority)" = optional ] && [ -n "$(dpkg-deb -f "$1" Section)" ]' _ "$deb"
check "maintainer scripts postinst, prerm and postrm are in the package" \
    bash -c 'i=$(dpkg-deb -I "$1"); for s in postinst prerm postrm; do grep -q " $s " <<<"$i" || exit 1; done' _ "$deb"

section "install: dpkg -i"
if dpkg -i "$deb"; then pass "dpkg -i (first install)"; else fail "dpkg -i (first install)"; fi
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd aegis || echo "x:x:-1:-1:x:none:none")
check "user aegis exists" getent passwd aegis
check "aegis is a system user (uid $uid in 100..999)" test "$uid" -ge 100 -a "$uid" -le 999
check "aegis's group is the system group aegis (gid $gid)" test "$(getent group aegis | cut -d: -f3)" = "$gid"
check "aegis's shell is /usr/sbin/nologin (found $shell)" test "$shell" = /usr/sbin/nologin
check "aegis's home is /var/lib/aegis (found $home)" test "$home" = /var/lib/aegis
check "aegis has no password (locked)" bash -c '[[ "$(getent shadow aegis | cut -d: -f2)" == [*!]* ]]'
check_stat /var/lib/aegis aegis:aegis 700
check_stat /var/log/aegis aegis:aegis 750
check_stat /etc/aegis root:aegis 750
check_stat /etc/aegis/aegis.toml root:aegis 640
check_stat /etc/aegis/aegis.env root:root 600
check_stat /etc/aegis/schedules root:aegis 750
check "schedules installed: /etc/aegis/schedules/{pipeline,holidays}.toml" \
    test -f /etc/aegis/schedules/pipeline.toml -a -f /etc/aegis/schedules/holidays.toml
check "unit installed: $UNIT" test -f "$UNIT"
if out=$(systemd-analyze verify "$UNIT" 2>&1); then
    pass "systemd-analyze verify $UNIT"
else
    fail "systemd-analyze verify $UNIT"
    printf '%s\n' "$out" | sed 's/^/      /'
fi
check "aegis.service is NOT enabled (no *.wants/ symlink; systemctl is-enabled: $(systemctl is-enabled aegis.service 2>&1 | head -n 1))" not_enabled
check "aegis is NOT running (no process of /usr/bin/aegis)" no_aegis_process
check "no database before the first upgrade (install does not migrate)" test ! -e /var/lib/aegis/aegis.db
vout=$(/usr/bin/aegis --version 2>&1 || true)
check "aegis --version runs: '$vout' (package $version)" test "$vout" = "aegis ${version%-*}"
check "aegis-as-service refuses to run as a normal user" bash -c '! runuser -u nobody -- /usr/sbin/aegis-as-service status 2>/dev/null'

section "config check as the service user"
# The brief's command (no secrets file: aegis cannot read aegis.env) and the wrapper (root hands it
# the secrets file). The shipped aegis.toml must be clean: exit 2, and the only problems are the
# four missing KIS credentials of the empty aegis.env.
expected_missing="KIS_ACCOUNT KIS_APP_KEY KIS_APP_SECRET KIS_HTS_ID"
for how in direct wrapper; do
    set +e
    if [ "$how" = direct ]; then
        out=$(cd /var/lib/aegis && runuser -u aegis -- /usr/bin/aegis --config /etc/aegis/aegis.toml config check 2>&1)
    else
        out=$(/usr/sbin/aegis-as-service config check 2>&1)
    fi
    rc=$?
    set -e
    problems=$(grep -E '^  - ' <<<"$out" || true)
    missing=$(grep -oE '^  - (KIS_[A-Z_]+): missing' <<<"$problems" | sed -E 's/^  - ([A-Z_]+): missing/\1/' | sort | tr '\n' ' ' | sed 's/ $//')
    others=$(grep -vE '^  - KIS_(APP_KEY|APP_SECRET|ACCOUNT|HTS_ID): missing' <<<"$problems" || true)
    label="config check ($how: $( [ $how = direct ] && echo 'runuser -u aegis -- aegis --config /etc/aegis/aegis.toml config check' || echo 'aegis-as-service config check'))"
    if [ "$rc" -eq 2 ] && [ "$missing" = "$expected_missing" ] && [ -z "$others" ]; then
        pass "$label: exit 2, only the 4 KIS credentials missing"
    else
        fail "$label: expected exit 2 and only the 4 KIS credentials missing (exit $rc)"
        printf '%s\n' "$out" | sed 's/^/      /'
    fi
done

# Test credentials of the right shapes (never real ones), as an operator would fill aegis.env.
# With them the wrapper's check must be clean, which proves that it hands the secrets over.
sed -i -e "s/^KIS_APP_KEY=.*/KIS_APP_KEY=$(printf 'A%.0s' $(seq 36))/" \
    -e "s/^KIS_APP_SECRET=.*/KIS_APP_SECRET=$(printf 'S%.0s' $(seq 180))/" \
    -e 's/^KIS_ACCOUNT=.*/KIS_ACCOUNT=50123456-01/' -e 's/^KIS_HTS_ID=.*/KIS_HTS_ID=checkpkg01/' \
    /etc/aegis/aegis.env
set +e
out=$(/usr/sbin/aegis-as-service config check 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    pass "aegis-as-service config check with test credentials in aegis.env: exit 0"
else
    fail "aegis-as-service config check with test credentials in aegis.env: exit 0 (exit $rc)"
    printf '%s\n' "$out" | sed 's/^/      /'
fi
check "the secrets stayed unreadable to aegis (sudo -u aegis cat aegis.env fails)" bash -c '! runuser -u aegis -- cat /etc/aegis/aegis.env 2>/dev/null'

section "upgrade: dpkg -i of the same package again (postinst configure with the old version)"
# As if dpkg had installed the conffile 0644: postinst must put it back to 0600.
chmod 0644 /etc/aegis/aegis.env
if dpkg -i "$deb"; then pass "dpkg -i (upgrade)"; else fail "dpkg -i (upgrade)"; fi
check "migrate ran as aegis: /var/lib/aegis/aegis.db exists" test -f /var/lib/aegis/aegis.db
check_stat /var/lib/aegis/aegis.db aegis:aegis 600
set +e
out=$(/usr/sbin/aegis-as-service db status 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ] && grep -qE '^[0-9]+ applied, 0 pending$' <<<"$out"; then
    pass "aegis-as-service db status: $(tail -n 1 <<<"$out")"
else
    fail "aegis-as-service db status: every migration applied (exit $rc)"
    printf '%s\n' "$out" | sed 's/^/      /'
fi
check "no root-owned file under /var/lib/aegis or /var/log/aegis" \
    bash -c '[ -z "$(find /var/lib/aegis /var/log/aegis ! -user aegis -print -quit)" ]'
check "the edited aegis.env was kept (conffile)" grep -q '^KIS_ACCOUNT=50123456-01$' /etc/aegis/aegis.env
check_stat /etc/aegis/aegis.env root:root 600
check_stat /etc/aegis/aegis.toml root:aegis 640
check_stat /var/lib/aegis aegis:aegis 700
check "aegis.service is still NOT enabled after the upgrade" not_enabled
check "aegis is still NOT running after the upgrade" no_aegis_process

section "failed migration: an upgrade whose database cannot be opened"
# DB_URL in aegis.env overrides aegis.toml: a directory that does not exist, as a stand-in for an
# unreachable database. postinst must fail, dpkg must leave the package half-configured, and
# `dpkg --configure -a` must finish the job once the cause is fixed.
echo 'DB_URL=sqlite:///nonexistent-aegis-check/aegis.db?mode=rwc' >>/etc/aegis/aegis.env
set +e
out=$(dpkg -i "$deb" 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | sed 's/^/      /'
check "dpkg -i fails when the migration fails (exit $rc)" test "$rc" -ne 0
check "postinst said why ('aegis db migrate' failed)" grep -q "'aegis db migrate' failed" <<<"$out"
check "dpkg status is half-configured (iF): $(dpkg_status)" test "$(dpkg_status)" = iF
check "the service was not touched (not enabled, not running)" bash -c "$(declare -f not_enabled no_aegis_process); not_enabled && no_aegis_process"
sed -i '/^DB_URL=sqlite:\/\/\/nonexistent-aegis-check/d' /etc/aegis/aegis.env
if dpkg --configure -a; then pass "after the fix, dpkg --configure -a completes"; else fail "after the fix, dpkg --configure -a completes"; fi
check "dpkg status is installed (ii): $(dpkg_status)" test "$(dpkg_status)" = ii

section "remove: dpkg -r aegis"
if dpkg -r aegis; then pass "dpkg -r"; else fail "dpkg -r"; fi
check "binary removed" test ! -e /usr/bin/aegis
check "unit removed" test ! -e "$UNIT"
check "conffiles kept after remove (/etc/aegis/aegis.toml, aegis.env)" test -f /etc/aegis/aegis.toml -a -f /etc/aegis/aegis.env
check "database kept after remove" test -f /var/lib/aegis/aegis.db
check "dpkg status is rc (config-files remain)" test "$(dpkg_status)" = rc
echo "    left after remove:"
leftovers

section "purge: dpkg -P aegis"
if dpkg -P aegis; then pass "dpkg -P"; else fail "dpkg -P"; fi
check "/etc/aegis removed" test ! -e /etc/aegis
check "/var/log/aegis removed" test ! -e /var/log/aegis
check "/var/lib/aegis KEPT on purge (the trading database)" test -f /var/lib/aegis/aegis.db
check "user aegis KEPT on purge (Debian practice)" getent passwd aegis
check "no mask or enablement symlink left in /etc/systemd/system" \
    bash -c '[ -z "$(find /etc/systemd/system -name aegis.service 2>/dev/null)" ]'
st=$(dpkg_status)
check "dpkg: aegis is not installed (status '${st:-none}')" bash -c '[ -z "$1" ] || [ "${1:1:1}" = n ]' _ "$st"
echo "    left after purge:"
leftovers

if [ "$keep" -eq 0 ]; then
    # This run started from a clean machine, so these are its own test leftovers.
    rm -rf /var/lib/aegis
    deluser --system --quiet aegis >/dev/null 2>&1 || true
    delgroup --system --quiet aegis >/dev/null 2>&1 || true
    echo "    (the check's own leftovers deleted: /var/lib/aegis and the user aegis; --keep keeps them)"
fi

echo
if [ "$failures" -eq 0 ]; then
    echo "RESULT: PASS (every check held) for $deb"
else
    echo "RESULT: FAIL ($failures check(s) failed) for $deb"
    exit 1
fi
