#!/usr/bin/env bash
# What lookout's tests run against, installed only when missing:
#   chromium                    loads the status page headless (tests/status_page.rs)
#   monitoring-plugins-basic    a real Nagios plugin (check_tcp) as an exec check
#   openssl                     makes short-lived certificates and serves HTTPS (s_server)
#   aiosmtpd (PyPI)             a real SMTP server on loopback that receives the alert mail
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/nagios/plugins/check_tcp ] || need+=(monitoring-plugins-basic)
[ -x /usr/bin/openssl ] || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    $SUDO python3 -m pip install -q 'aiosmtpd==1.4.6'
fi
