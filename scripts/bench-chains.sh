#!/usr/bin/env bash
# Issue #19's cost check: what following waits to other processes adds to a dump, on a machine
# with many processes (N, default 2000, each holding a pipe, a UNIX socket pair and a file
# open, asleep). Four targets: a thread waiting on a UNIX socket whose peer is its child (a pid
# next to it); one whose peer is a UNIX server started before the N others (far in pid order,
# found through SO_PEERCRED's hint); the same over loopback TCP (no such hint: found only by
# reading every process's fds); one reading a pipe whose write end only it holds, a sibling of
# the N others (the search then reads the waiter's parent, children and siblings: its worst
# case); and one whose threads wait on nothing we follow (a sleep).
# `dump --timings` on each RUNS times: as is (the fd index may take 15 ms), with `--no-chains`,
# and with `--chains` (it may take 500 ms), alternating; per target and command the median
# [min-max] of the `chains` lap and of the whole trace, and on stderr whether the peer was named.
#
# Usage: scripts/bench-chains.sh     env: N=2000, RUNS=9, RSTACK_TUI (default
#   target/release/rstack-tui, built if missing).
# Every wait is bounded; every process started is killed by pid on exit.
set -uo pipefail

cd "$(dirname "$0")/.."
N=${N:-2000}
RUNS=${RUNS:-9}
RSTACK_TUI=${RSTACK_TUI:-target/release/rstack-tui}
[[ -x $RSTACK_TUI ]] || cargo build --release --quiet || exit 1
WORK=$(mktemp -d /tmp/bench-chains.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cat >"$WORK/proc.c" <<'EOF'
/* proc MODE: "idle" holds a pipe, a UNIX socket pair and a file open and sleeps; "socket"
 * forks a child, and parent and child each block reading their end of a socket pair; "sleep"
 * sleeps in nanosleep; "server PATH" accepts one connection on a UNIX socket at PATH and
 * sleeps; "client PATH" connects to it and blocks reading; "tcpserver" and "tcpclient PORT"
 * the same over loopback TCP (the server prints "ready PORT"); "selfpipe" reads a pipe whose
 * write end only it holds. Each prints "ready" once where it stays (a server once it
 * listens). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "idle";
    int p[2], s[2];
    char c;
    if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, s))
        return 1;
    if (!strcmp(mode, "idle")) {
        if (open("/proc/self/stat", O_RDONLY) < 0)
            return 1;
        printf("ready\n");
        fflush(stdout);
        pause();
    } else if (!strcmp(mode, "selfpipe")) {
        printf("ready\n");
        fflush(stdout);
        if (read(p[0], &c, 1) < 0)
            return 1;
    } else if (!strcmp(mode, "socket")) {
        if (fork() == 0) {
            if (read(s[1], &c, 1) < 0)
                return 1;
            return 0;
        }
        printf("ready\n");
        fflush(stdout);
        if (read(s[0], &c, 1) < 0)
            return 1;
    } else if (argc > 2 && (!strcmp(mode, "server") || !strcmp(mode, "client"))) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
        int u = socket(AF_UNIX, SOCK_STREAM, 0);
        if (!strcmp(mode, "server")) {
            if (bind(u, (struct sockaddr *)&a, sizeof a) || listen(u, 1))
                return 1;
            printf("ready\n");
            fflush(stdout);
            if (accept(u, NULL, NULL) < 0)
                return 1;
            pause();
        } else {
            if (connect(u, (struct sockaddr *)&a, sizeof a))
                return 1;
            printf("ready\n");
            fflush(stdout);
            if (read(u, &c, 1) < 0)
                return 1;
        }
    } else if (!strcmp(mode, "tcpserver") || (argc > 2 && !strcmp(mode, "tcpclient"))) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int t = socket(AF_INET, SOCK_STREAM, 0);
        if (!strcmp(mode, "tcpserver")) {
            if (bind(t, (struct sockaddr *)&a, sizeof a) || listen(t, 1) ||
                getsockname(t, (struct sockaddr *)&a, &len))
                return 1;
            printf("ready %d\n", ntohs(a.sin_port));
            fflush(stdout);
            if (accept(t, NULL, NULL) < 0)
                return 1;
            pause();
        } else {
            a.sin_port = htons(atoi(argv[2]));
            if (connect(t, (struct sockaddr *)&a, sizeof a))
                return 1;
            printf("ready\n");
            fflush(stdout);
            if (read(t, &c, 1) < 0)
                return 1;
        }
    } else {
        printf("ready\n");
        fflush(stdout);
        sleep(100000);
    }
    return 0;
}
EOF
gcc -O1 -o "$WORK/proc" "$WORK/proc.c" || exit 1

mkfifo "$WORK/sv" "$WORK/cl" "$WORK/tsv" "$WORK/tcl"
"$WORK/proc" server "$WORK/sock" >"$WORK/sv" &
PIDS+=($!)
read -r -t 30 line <"$WORK/sv" || { echo "the server did not start" >&2; exit 1; }
"$WORK/proc" tcpserver >"$WORK/tsv" &
PIDS+=($!)
read -r -t 30 line port <"$WORK/tsv" || { echo "the TCP server did not start" >&2; exit 1; }
echo "starting $N idle processes..."
for ((i = 0; i < N; i++)); do
    "$WORK/proc" idle >/dev/null &
    PIDS+=($!)
done
mkfifo "$WORK/s" "$WORK/q"
"$WORK/proc" socket >"$WORK/s" &
SOCKET=$!
PIDS+=("$SOCKET")
read -r -t 30 line <"$WORK/s" || { echo "the socket target did not start" >&2; exit 1; }
"$WORK/proc" sleep >"$WORK/q" &
SLEEP=$!
PIDS+=("$SLEEP")
read -r -t 30 line <"$WORK/q" || { echo "the sleep target did not start" >&2; exit 1; }
"$WORK/proc" client "$WORK/sock" >"$WORK/cl" &
FAR=$!
PIDS+=("$FAR")
read -r -t 30 line <"$WORK/cl" || { echo "the client did not start" >&2; exit 1; }
"$WORK/proc" tcpclient "$port" >"$WORK/tcl" &
TCPFAR=$!
PIDS+=("$TCPFAR")
read -r -t 30 line <"$WORK/tcl" || { echo "the TCP client did not start" >&2; exit 1; }
mkfifo "$WORK/sp"
"$WORK/proc" selfpipe >"$WORK/sp" &
SELFPIPE=$!
PIDS+=("$SELFPIPE")
read -r -t 30 line <"$WORK/sp" || { echo "the selfpipe target did not start" >&2; exit 1; }
# The socket target's child, to kill it too.
for c in $(cat /proc/"$SOCKET"/task/*/children 2>/dev/null); do PIDS+=("$c"); done
# Until every process is asleep where it stays (a bounded wait).
for ((w = 0; w < 300; w++)); do
    running=$(ps -o stat= -p "$(IFS=,; echo "${PIDS[*]}")" | grep -c '^R')
    [[ $running -eq 0 ]] && break
    sleep 0.1
done

# lap NAME FILE: the NAME lap of each --timings line in FILE, in ms.
lap() { grep -o "$1 [0-9.]*" "$2" | awk '{print $2}'; }
stats() { sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.1f [%.1f-%.1f]", a[int((NR+1)/2)], a[1], a[NR]; else printf "?"}'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); processes on the machine: $(ls -d /proc/[0-9]* | wc -l); $(nproc) CPUs"
echo "RUNS=$RUNS"
echo
echo "| target | command | chains lap (ms), median [min-max] | whole trace (ms), median [min-max] |"
echo "| --- | --- | --- | --- |"
for target in socket far tcpfar selfpipe sleep; do
    case $target in
    socket) pid=$SOCKET ;;
    far) pid=$FAR ;;
    tcpfar) pid=$TCPFAR ;;
    selfpipe) pid=$SELFPIPE ;;
    *) pid=$SLEEP ;;
    esac
    : >"$WORK/on" && : >"$WORK/off" && : >"$WORK/all"
    for ((r = 0; r < RUNS; r++)); do
        "$RSTACK_TUI" dump "$pid" --timings 2>>"$WORK/on" >/dev/null
        "$RSTACK_TUI" dump "$pid" --timings --no-chains 2>>"$WORK/off" >/dev/null
        "$RSTACK_TUI" dump "$pid" --timings --chains 2>>"$WORK/all" >"$WORK/chains.out"
    done
    # Whether the default dump named the peer, and whether dump --chains did.
    found=$("$RSTACK_TUI" dump "$pid" | grep -c '→ peer pid\|held by pid')
    found_all=$(grep -c '→ peer pid\|held by pid' "$WORK/chains.out")
    echo "$target: links to another process named: dump $found, dump --chains $found_all" >&2
    for mode in on off all; do
        printf '| %s | %s | %s | %s |\n' "$(case $target in socket) echo "UNIX socket wait, peer its child" ;; far) echo "UNIX socket wait, peer $N processes away" ;; tcpfar) echo "TCP wait, peer $N processes away" ;; selfpipe) echo "pipe only it holds, $N siblings" ;; *) echo "sleep wait" ;; esac)" "$(case $mode in on) echo "dump" ;; off) echo "dump --no-chains" ;; *) echo "dump --chains" ;; esac)" \
            "$(lap chains "$WORK/$mode" | stats)" \
            "$(grep -o 'trace 1: [0-9.]* ms' "$WORK/$mode" | awk '{print $3}' | stats)"
    done
done
