#!/usr/bin/env bash
# Installs rsyslog and its OpenSSL network stream driver (Debian's rsyslog and rsyslog-openssl,
# the latter for the TLS test against rsyslog itself) when missing. Idempotent. It only
# installs: each test starts its own rsyslogd (`rsyslogd -n -f CONF -i PIDFILE`) on a free
# loopback port with its own config, pid file and work directory in a temp dir, without systemd,
# and stops it when it ends.
set -euo pipefail
have_rsyslogd() { command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ]; }
have_ossl() { compgen -G '/usr/lib/*/rsyslog/lmnsd_ossl.so' >/dev/null; }
if have_rsyslogd && have_ossl; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-rsyslog.sh: need rsyslog and rsyslog-openssl but not root (cannot apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
packages=(rsyslog rsyslog-openssl)
if ! $SUDO apt-get install -y --no-install-recommends "${packages[@]}" >&2; then
    $SUDO apt-get update >&2
    $SUDO apt-get install -y --no-install-recommends "${packages[@]}" >&2
fi
