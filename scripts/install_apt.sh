#!/usr/bin/env bash
# Install the Debian packages jaxdiv's embedded data needs, only those missing.
# As root it installs; with passwordless sudo it uses sudo; otherwise it prints the exact line to run.
set -euo pipefail
packages=(fonts-noto-cjk fonts-unifont fonts-droid-fallback fonts-vlgothic fonts-umeplus-cl fonts-konatu
  fonts-monapo fonts-cwtex-heib fonts-cwtex-yen fonts-wqy-zenhei fonts-arphic-bsmi00lp fonts-arphic-gkai00mp
  fonts-seto fonts-smiley-sans fonts-aenigma fonts-urw-base35 fonts-cmu fonts-liberation fonts-uralic
  fonts-dejavu-core fonts-freefont-ttf fonts-nanum fonts-unfonts-core fonts-baekmuk dataset-fashion-mnist)
optional=(fonts-smiley-sans)  # not in every Debian/Ubuntu release
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "apt: all ${#packages[@]} packages present"; exit 0; }
if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); elif sudo -n true 2>/dev/null; then sudo_cmd=(sudo); else
  echo "Missing Debian packages. Run as root:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
available=()
for p in "${missing[@]}"; do
  if apt-cache show "$p" >/dev/null 2>&1; then available+=("$p");
  elif [[ " ${optional[*]} " == *" $p "* ]]; then echo "apt: optional $p not in this release, skipped";
  else echo "apt: required package $p is not available from your apt sources" >&2; exit 1; fi
done
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${available[@]}"
