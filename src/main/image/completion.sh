#!/bin/sh
# Makes the bash completion of einhyrningsins and einhyrningsinsctl from the built programs:
#
#   completion.sh IMAGE HELP OUT
#
# IMAGE is the runtime image, HELP what its supervisor answered to `help` (one "name:
# description" line a command), OUT the file to write. The options and what their values
# are come from `einhyrningsins --help` and `einhyrningsinsctl --help`, the -b options from the
# supervisor's own complaint about an unknown one, the -b address kinds (unix:, udp:) from -b's help,
# the commands and config keys from HELP. So the completion follows the code as options and
# commands are added; what it does with them is completion/einhyrningsins.bash, appended.
set -eu
if [ $# -ne 3 ]; then
    echo "usage: completion.sh IMAGE HELP OUT" >&2
    exit 2
fi
image=$1
help=$2
out=$3
here=$(dirname "$0")
fail() {
    echo "completion.sh: $*" >&2
    exit 1
}

# "  -b, --bind ADDR:PORT[,OPT...]   help..." -> "-b --bind<TAB>ADDR:PORT[,OPT...]": option lines only
# (a label indented by 1 to 8 blanks; help text wrapped under it is indented further); the
# spellings, then the value's name if one follows (a word without lower-case letters)
labels() {
    sed -n 's/^ \{1,8\}\(-[^ ].*\)$/\1/p' | awk '{
        spellings = ""; metavar = ""
        for (k = 1; k <= NF; k++) {
            word = $k
            if (word ~ /^-/) { sub(/,$/, "", word); spellings = spellings (spellings == "" ? "" : " ") word; continue }
            if (word ~ /^[A-Z[][^a-z]*$/) metavar = word
            break
        }
        print spellings "\t" metavar
    }'
}

# ARRAY ASSOC < labels: the bash arrays of spellings and of value-taking spellings -> metavar
arrays() {
    awk -F '\t' -v array="$1" -v assoc="$2" '{
        n = split($1, s, " ")
        for (k = 1; k <= n; k++) {
            all = all " " s[k]
            if ($2 != "") args = args " [" s[k] "]='\''" $2 "'\''"
        }
    } END {
        print array "=(" substr(all, 2) ")"
        print "declare -gA " assoc "=(" substr(args, 2) ")"
    }'
}

supervisor_help=$("$image/bin/einhyrningsins" --help) || fail "einhyrningsins --help failed"
ctl_help=$("$image/bin/einhyrningsinsctl" --help) || fail "einhyrningsinsctl --help failed"
supervisor=$(printf '%s\n' "$supervisor_help" | labels)
ctl=$(printf '%s\n' "$ctl_help" | labels)
commands=$(sed -n 's/^\([a-z][a-z_:]*\): .*/\1/p' "$help" | tr '\n' ' ')
# "config: ... Keys: verbosity (0..2), seconds (...), ... All or nothing" -> the key names
config_keys=$(sed -n 's/^config: .*Keys: //p' "$help" | grep -o '\(^\|, \)[a-z_][a-z_]* (' | sed 's/^, //; s/ ($//' | tr '\n' ' ')
# "unknown bind option ... (known: r/so_reuseaddr, ..., name=NAME, and for unix: mode=OCTAL, ...; separate ...)"
known=$("$image/bin/einhyrningsins" -b '127.0.0.1:0,?' -- true 2>&1 | sed -n 's/.*(known: \([^;]*\);.*/\1/p') || true
bind_options=$(printf '%s\n' "$known" | sed 's/, /\n/g' | sed 's/^and //; s/^for [^ ]*: //; s/=.*/=/' | tr '/' '\n' | tr '\n' ' ')
# -b's help: its address kinds written as kind:VALUE, those of a file (unix:PATH, unixgram:PATH)
# and those of an address (udp:ADDR:PORT)
bind_help=$(printf '%s\n' "$supervisor_help" | awk '/^  -b, /{on=1; print; next} on && /^  -/{on=0} on' | tr '\n' ' ')
bind_prefixes=$(printf '%s\n' "$bind_help" | grep -o '[a-z][a-z0-9]*:PATH' | sed 's/PATH$//' | sort -u | tr '\n' ' ')
bind_address_prefixes=$(printf '%s\n' "$bind_help" | grep -o '[a-z][a-z0-9]*:ADDR' | sed 's/ADDR$//' | sort -u | tr '\n' ' ')

[ -n "$supervisor" ] || fail "no options found in einhyrningsins --help"
[ -n "$ctl" ] || fail "no options found in einhyrningsinsctl --help"
[ -n "$commands" ] || fail "no commands found in $help"
[ -n "$config_keys" ] || fail "no config keys found in $help"
[ -n "$bind_options" ] || fail "no -b options found in einhyrningsins' complaint about an unknown one"
[ -n "$bind_prefixes" ] || fail "no -b address kinds (such as unix:PATH) found in einhyrningsins --help"

mkdir -p "$(dirname "$out")"
{
    echo "# Made by completion.sh from this build's einhyrningsins --help, einhyrningsinsctl --help and"
    echo "# the supervisor's help: the option, command and key lists the completion offers."
    printf '%s\n' "$supervisor" | arrays _einhyrningsins_options _einhyrningsins_argument
    printf '%s\n' "$ctl" | arrays _einhyrningsins_ctl_options _einhyrningsins_ctl_argument
    echo "_einhyrningsins_commands=(${commands% })"
    echo "_einhyrningsins_config_keys=(${config_keys% })"
    echo "_einhyrningsins_bind_options=(${bind_options% })"
    echo "_einhyrningsins_bind_prefixes=(${bind_prefixes% })"
    echo "_einhyrningsins_bind_address_prefixes=(${bind_address_prefixes% })"
    echo
    cat "$here/completion/einhyrningsins.bash"
} >"$out.tmp"
bash -n "$out.tmp" || fail "the completion made is not valid bash"
mv "$out.tmp" "$out"
