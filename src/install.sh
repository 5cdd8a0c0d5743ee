#!/bin/sh
# install.sh BIN MANPAGE: what `ninja install` runs. Installs the binary,
# its man page, and the bash and zsh completion scripts that the binary
# makes from its own option table, under $DESTDIR$PREFIX (PREFIX defaults
# to DEFAULT_PREFIX, the one configure was given). Writes nothing outside
# it.
set -eu
bin=${1:?usage: install.sh BIN MANPAGE}
man=${2:?usage: install.sh BIN MANPAGE}
p=${DESTDIR:-}${PREFIX:-${DEFAULT_PREFIX:-/usr/local}}
mkdir -p "$p/bin" "$p/share/man/man1" "$p/share/bash-completion/completions" \
	"$p/share/zsh/site-functions"
case $bin in */*) ;; *) bin=./$bin ;; esac
install -m 755 "$bin" "$p/bin/addonmake"
install -m 644 "$man" "$p/share/man/man1/addonmake.1"
"$bin" completion bash > "$p/share/bash-completion/completions/addonmake.tmp"
mv "$p/share/bash-completion/completions/addonmake.tmp" "$p/share/bash-completion/completions/addonmake"
"$bin" completion zsh > "$p/share/zsh/site-functions/_addonmake.tmp"
mv "$p/share/zsh/site-functions/_addonmake.tmp" "$p/share/zsh/site-functions/_addonmake"
echo "installed addonmake, its man page and completions under $p"
