#!/usr/bin/env bash
# Installs rsyslog (Debian's package) for the syslog tests, when missing. Idempotent. It only
# installs: each test starts its own rsyslogd (`rsyslogd -n -f CONF -i PIDFILE`) on a free
# loopback port with its own config, pid file and work directory in a temp dir, without systemd.
set -euo pipefail
if command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "start-rsyslog.sh: need rsyslog but not root (cannot apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends rsyslog >&2; then
    $SUDO apt-get update >&2
    $SUDO apt-get install -y --no-install-recommends rsyslog >&2
fi
