# Sourced by the run scripts of the i-PI examples: start i-PI and its clients, stop them all if
# one fails, and return i-PI's exit status.
#
#   start_server input.xml             # i-pi in the background, log in <input>.log
#   wait_for_socket ADDRESS            # until i-PI listens on /tmp/ipi_ADDRESS (LAMMPS' fix ipi
#                                      # does not wait for the server; tensorml-ipi does)
#   start_client NAME command args...  # a client in the background, log in NAME.log
#   supervise                          # wait; returns 0 if i-PI finished cleanly
#
# A client that exits with an error while i-PI still runs stops the run (after a grace period in
# which i-PI may still finish: LAMMPS' fix ipi, for one, exits with status 1 on i-PI's EXIT).

_server=""
_clients=()
_names=()

start_server() {
    local input=$1
    i-pi "$input" > "${input%.xml}.log" 2>&1 &
    _server=$!
}

start_client() {
    local name=$1
    shift
    "$@" > "$name.log" 2>&1 &
    _clients+=("$!")
    _names+=("$name")
}

wait_for_socket() {
    local path=/tmp/ipi_$1
    for _ in $(seq 600); do
        [ -S "$path" ] && return 0
        kill -0 "$_server" 2> /dev/null || break
        sleep 0.1
    done
    echo "i-PI did not open $path; see its log" >&2
    _stop_all
    return 1
}

_stop_all() {
    for pid in "$_server" "${_clients[@]}"; do
        kill "$pid" 2> /dev/null || true
    done
}

supervise() {
    trap '_stop_all; exit 130' INT TERM
    local failed="" k pid rc grace=0
    while kill -0 "$_server" 2> /dev/null; do
        for k in "${!_clients[@]}"; do
            pid=${_clients[$k]}
            if [ -n "$pid" ] && ! kill -0 "$pid" 2> /dev/null; then
                wait "$pid"
                rc=$?
                _clients[$k]=""
                if [ "$rc" -ne 0 ]; then
                    failed="${_names[$k]} (exit status $rc, see ${_names[$k]}.log)"
                fi
            fi
        done
        if [ -n "$failed" ]; then
            grace=$((grace + 1))
            if [ "$grace" -gt 50 ]; then # 10 s for i-PI to finish on its own
                echo "run stopped: $failed" >&2
                tail -n 5 "${_names[@]/%/.log}" >&2 2> /dev/null
                _stop_all
                wait 2> /dev/null
                return 1
            fi
        fi
        sleep 0.2
    done
    wait "$_server"
    rc=$?
    for pid in "${_clients[@]}"; do # clients leave after i-PI's EXIT
        [ -n "$pid" ] || continue
        for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
        kill "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "i-PI failed (exit status $rc)" >&2
    fi
    return "$rc"
}
