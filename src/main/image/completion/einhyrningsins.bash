# Bash completion for einhyrningsins and einhyrningsinsctl: options and their values (-b
# addresses and options, signals, files, ack modes), the PROGRAM, and the control commands of
# `ctl -e` (asked of the running supervisor with `help` when its socket answers, otherwise the
# list this build's supervisor gave). The _einhyrningsins_* lists above this body are made at
# build time from the programs themselves (src/main/image/completion.sh); nothing here repeats them.
# SPDX-License-Identifier: GPL-3.0-or-later

# _einhyrningsins_words: splits the line up to the cursor into words as the shell will
# (blanks, quotes, backslashes; not COMP_WORDBREAKS, which splits ADDR:PORT and --opt=VALUE).
# Sets the array _ehy_words (the words before the current one, unquoted) and _ehy_cur (the
# current word so far, unquoted).
_einhyrningsins_words() {
    local line=${COMP_LINE:0:COMP_POINT} word="" quote="" c i in_word=""
    _ehy_words=()
    for ((i = 0; i < ${#line}; i++)); do
        c=${line:i:1}
        if [[ -n $quote ]]; then
            if [[ $c == "$quote" ]]; then
                quote=""
            elif [[ $quote == '"' && $c == \\ && $((i + 1)) -lt ${#line} && ${line:i+1:1} == [\"\\\$\`] ]]; then
                word+=${line:i+1:1}
                ((i++))
            else
                word+=$c
            fi
        elif [[ $c == [\'\"] ]]; then
            quote=$c
            in_word=1
        elif [[ $c == \\ ]]; then
            word+=${line:i+1:1}
            ((i++))
            in_word=1
        elif [[ $c == [[:blank:]] ]]; then
            if [[ -n $in_word ]]; then
                _ehy_words+=("$word")
                word=""
                in_word=""
            fi
        else
            word+=$c
            in_word=1
        fi
    done
    _ehy_cur=$word
}

# _einhyrningsins_reply WORD...: offers these as completions of the whole current word
# (_ehy_cur); readline replaces only its own last piece (after the last character of
# COMP_WORDBREAKS, such as ':' or '='), so the part before that piece is taken off each.
_einhyrningsins_reply() {
    local readline=$_ehy_rl_cur prefix="" w
    if [[ ${#_ehy_cur} -ge ${#readline} && ${_ehy_cur: -${#readline}} == "$readline" ]] || [[ -z $readline ]]; then
        prefix=${_ehy_cur:0:${#_ehy_cur}-${#readline}}
    fi
    for w in "$@"; do
        [[ $w == "$_ehy_cur"* ]] || continue
        COMPREPLY+=("${w:${#prefix}}")
    done
}

# _einhyrningsins_nospace: the offered words are not finished (an address waits for its port)
_einhyrningsins_nospace() {
    compopt -o nospace 2>/dev/null || true
}

# _einhyrningsins_signals: signal names as the supervisor takes them (TERM, USR2, ...)
_einhyrningsins_signals() {
    local s names=()
    for s in $(compgen -A signal); do
        s=${s#SIG}
        # not the real-time ones, nor the shell's own trap names (EXIT, ERR, ...)
        [[ $s =~ ^[A-Z][A-Z0-9]*$ && $s != RT* && $s != EXIT && $s != ERR && $s != DEBUG && $s != RETURN ]] && names+=("$s")
    done
    printf '%s\n' "${names[@]}"
}

# _einhyrningsins_files PREFIX VALUE: file names completing VALUE, each after PREFIX
_einhyrningsins_files() {
    local prefix=$1 f
    compopt -o filenames 2>/dev/null || true
    local IFS=$'\n'
    for f in $(compgen -f -- "$2"); do
        [[ -d $f ]] && f+=/ && _einhyrningsins_nospace
        _einhyrningsins_reply "$prefix$f"
    done
}

# _einhyrningsins_bind PREFIX VALUE: a -b value, ADDR:PORT[,OPT...], unix:PATH[,OPT...], udp:ADDR:PORT[,OPT...]...
_einhyrningsins_bind() {
    local prefix=$1 value=$2 head opt candidates=() p a
    if [[ $value == *,* ]]; then
        head=${value%,*},
        opt=${value##*,}
        case $opt in
            group=*) for p in $(compgen -g -- "${opt#group=}"); do candidates+=("${head}group=$p"); done ;;
            owner=*) for p in $(compgen -u -- "${opt#owner=}"); do candidates+=("${head}owner=$p"); done ;;
            mode=*) candidates=("${head}mode=0600" "${head}mode=0660" "${head}mode=0666") ;;
            *=*) ;;
            *)
                for p in "${_einhyrningsins_bind_options[@]}"; do candidates+=("$head$p"); done
                _einhyrningsins_nospace
                ;;
        esac
        for p in "${candidates[@]}"; do _einhyrningsins_reply "$prefix$p"; done
        return
    fi
    for p in "${_einhyrningsins_bind_prefixes[@]}"; do
        if [[ $value == "$p"* ]]; then
            _einhyrningsins_files "$prefix$p" "${value#"$p"}"
            return
        fi
    done
    _einhyrningsins_nospace
    for p in "${_einhyrningsins_bind_address_prefixes[@]}"; do
        if [[ $value == "$p"* ]]; then
            for a in 127.0.0.1: 0.0.0.0: '[::1]:' '[::]:' localhost:; do _einhyrningsins_reply "$prefix$p$a"; done
            return
        fi
    done
    for p in "${_einhyrningsins_bind_prefixes[@]}" "${_einhyrningsins_bind_address_prefixes[@]}" 127.0.0.1: 0.0.0.0: \
        '[::1]:' '[::]:' localhost:; do
        _einhyrningsins_reply "$prefix$p"
    done
}

# _einhyrningsins_value PREFIX METAVAR VALUE: the value of an option whose argument is METAVAR
_einhyrningsins_value() {
    local prefix=$1 metavar=$2 value=$3 w
    case $metavar in
        'ADDR:PORT[,OPT...]') _einhyrningsins_bind "$prefix" "$value" ;;
        PATH | FILE | *FILE) _einhyrningsins_files "$prefix" "$value" ;;
        SIG | SIGNAL) for w in $(_einhyrningsins_signals); do _einhyrningsins_reply "$prefix$w"; done ;;
        MODE) for w in manual notify 0 1; do _einhyrningsins_reply "$prefix$w"; done ;;
        CMD) for w in $(compgen -c -- "$value"); do _einhyrningsins_reply "$prefix$w"; done ;;
        CMDS) _einhyrningsins_execute "$prefix" "$value" ;;
        VAR) for w in $(compgen -e -- "$value"); do _einhyrningsins_reply "$prefix$w"; done ;;
        NAME)
            # instances with a control socket in the default place (einhorn-NAME.sock)
            local f
            for f in "${TMPDIR:-/tmp}"/einhorn-*.sock; do
                [[ -S $f ]] || continue
                f=${f##*/einhorn-}
                _einhyrningsins_reply "$prefix${f%.sock}"
            done
            ;;
        *UID*) for w in $(compgen -u -- "$value"); do _einhyrningsins_reply "$prefix$w"; done ;;
        *GID*) for w in $(compgen -g -- "$value"); do _einhyrningsins_reply "$prefix$w"; done ;;
    esac
}

# _einhyrningsins_live_commands: the commands the supervisor this ctl line talks to offers,
# from its `help` (one "name: description" line each), or nothing when its socket does not answer
_einhyrningsins_live_commands() {
    local socket="" name="" i w ctl=("${_ehy_words[0]}")
    [[ ${_ehy_words[1]-} == ctl ]] && ctl+=(ctl)
    for ((i = 1; i < ${#_ehy_words[@]}; i++)); do
        w=${_ehy_words[i]}
        case $w in
            -d | --socket-path) socket=${_ehy_words[i + 1]-} ;;
            --socket-path=*) socket=${w#*=} ;;
            -d?*) socket=${w#-d} ;;
            -c | --command-name) name=${_ehy_words[i + 1]-} ;;
            --command-name=*) name=${w#*=} ;;
            -c?*) name=${w#-c} ;;
        esac
    done
    if [[ -z $socket ]]; then
        socket=${TMPDIR:-/tmp}/einhorn${name:+-$name}.sock
    fi
    [[ -S $socket ]] || return 0
    local cmd=("${ctl[@]}" -d "$socket" -e help)
    command -v timeout >/dev/null && cmd=(timeout 3 "${cmd[@]}")
    "${cmd[@]}" 2>/dev/null </dev/null | sed -n 's/^\([a-z][a-z_:]*\): .*/\1/p'
}

# _einhyrningsins_execute PREFIX VALUE: the value of ctl -e, "CMD [ARGS]; CMD [ARGS]; ..."
_einhyrningsins_execute() {
    local prefix=$1 value=$2 head segment command w commands=()
    head=""
    if [[ $value == *\;* ]]; then
        head=${value%;*}\;
        segment=${value##*;}
    else
        segment=$value
    fi
    # keep the blanks after the ';' as typed
    local lead=${segment%%[![:blank:]]*}
    head+=$lead
    segment=${segment#"$lead"}
    if [[ $segment != *[[:blank:]]* ]]; then
        mapfile -t commands < <(_einhyrningsins_live_commands)
        ((${#commands[@]})) || commands=("${_einhyrningsins_commands[@]}")
        for w in "${commands[@]}"; do _einhyrningsins_reply "$prefix$head$w"; done
        return
    fi
    command=${segment%%[[:blank:]]*}
    head+=${segment%[[:blank:]]*}" "
    case $command in
        signal | die) for w in $(_einhyrningsins_signals); do _einhyrningsins_reply "$prefix$head$w"; done ;;
        config)
            _einhyrningsins_nospace
            for w in "${_einhyrningsins_config_keys[@]}"; do _einhyrningsins_reply "$prefix$head$w="; done
            ;;
    esac
}

# _einhyrningsins_options LIST METAVARS START: completes the current word among the options of
# one program, whose own words begin at _ehy_words[START]. LIST names the array of spellings,
# METAVARS the associative array of the ones that take a value (spelling -> the name of its
# value). Returns 1 when the current word is the PROGRAM or one of its arguments, with
# _ehy_program set to the PROGRAM's index in _ehy_words (the current word's when it is the PROGRAM).
_einhyrningsins_options() {
    local -n spellings=$1 metavars=$2
    local i k w prev=""
    _ehy_program=""
    for ((i = $3; i < ${#_ehy_words[@]}; i++)); do
        w=${_ehy_words[i]}
        if [[ -n $prev ]]; then
            prev=""
        elif [[ $w == -- ]]; then
            _ehy_program=$((i + 1))
            return 1
        elif [[ $w == --* ]]; then
            [[ $w != *=* && -n ${metavars[$w]+set} ]] && prev=$w
        elif [[ $w == -?* ]]; then
            # short options bundle (-kn4): the first that takes a value takes the rest, or the next word
            for ((k = 1; k < ${#w}; k++)); do
                if [[ -n ${metavars[-${w:k:1}]+set} ]]; then
                    ((k + 1 == ${#w})) && prev=-${w:k:1}
                    break
                fi
            done
        else
            _ehy_program=$i
            return 1
        fi
    done
    if [[ -n $prev ]]; then
        _einhyrningsins_value "" "${metavars[$prev]}" "$_ehy_cur"
        # a bare -m means manual: a word after it that is no mode is the PROGRAM
        [[ ${metavars[$prev]} == MODE && -n $_ehy_cur && ${#COMPREPLY[@]} -eq 0 ]] || return 0
    elif [[ $_ehy_cur == --*=* ]]; then
        local option=${_ehy_cur%%=*}
        [[ -n ${metavars[$option]+set} ]] && _einhyrningsins_value "$option=" "${metavars[$option]}" "${_ehy_cur#*=}"
        return 0
    elif [[ $_ehy_cur == -* ]]; then
        _einhyrningsins_reply "${spellings[@]}"
        return 0
    fi
    _ehy_program=${#_ehy_words[@]}
    return 1
}

_einhyrningsins() {
    COMPREPLY=()
    _ehy_rl_cur=${2-}
    _einhyrningsins_words
    if [[ ${_ehy_words[1]-} == ctl ]]; then
        _einhyrningsins_options _einhyrningsins_ctl_options _einhyrningsins_ctl_argument 2 || true
        return 0
    fi
    _einhyrningsins_options _einhyrningsins_options _einhyrningsins_argument 1 && return 0
    local w
    if ((_ehy_program == ${#_ehy_words[@]})); then
        # the PROGRAM (or ctl, first)
        ((_ehy_program == 1)) && _einhyrningsins_reply ctl
        for w in $(compgen -c -- "$_ehy_cur"); do _einhyrningsins_reply "$w"; done
    else
        _einhyrningsins_files "" "$_ehy_cur"
    fi
    return 0
}

_einhyrningsinsctl() {
    COMPREPLY=()
    _ehy_rl_cur=${2-}
    _einhyrningsins_words
    _einhyrningsins_options _einhyrningsins_ctl_options _einhyrningsins_ctl_argument 1 || true
    return 0
}

complete -F _einhyrningsins einhyrningsins
complete -F _einhyrningsinsctl einhyrningsinsctl
