#!/usr/bin/env bash
# What lookout's tests run against, installed only when missing:
#   chromium                    loads the status page headless (tests/status_page.rs)
#   monitoring-plugins-basic    a real Nagios plugin (check_tcp) as an exec check
#   openssl                     makes short-lived certificates and serves HTTPS (s_server)
#   iproute2, procps            ip and sysctl, for the unprivileged-ping test (in a network namespace)
#   aiosmtpd (PyPI)             a real SMTP server on loopback that receives the alert mail
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/nagios/plugins/check_tcp ] || need+=(monitoring-plugins-basic)
[ -x /usr/bin/openssl ] || need+=(openssl)
[ -x /usr/sbin/ip ] || [ -x /usr/bin/ip ] || need+=(iproute2)
[ -x /usr/sbin/sysctl ] || [ -x /sbin/sysctl ] || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    # A Debian python3 refuses pip installs into the system (PEP 668).
    $SUDO python3 -m pip install -q 'aiosmtpd==1.4.6' \
        || $SUDO python3 -m pip install -q --break-system-packages 'aiosmtpd==1.4.6'
fi
