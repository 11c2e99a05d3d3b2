#!/usr/bin/env bash
# Usage: run-broker.sh <command...>   (the JVM command line, e.g. java -cp 'libs/*' kafka.Kafka server.properties)
#
# Runs the Kafka broker JVM as a child and guarantees it does not outlive the Node process that
# started us: that process holds the write end of our stdin, so EOF on stdin means it is gone,
# however it died (normal exit, crash, SIGKILL). Then the JVM gets SIGTERM, and SIGKILL if it has
# not exited after 10 s. SIGTERM/SIGINT sent to this script are forwarded to the JVM, and the
# script exits only once the JVM has exited, with its status: our exit means the broker is down.
# If RMAS_BROKER_TEMP_DIR is set, the watchdog also deletes that folder (the broker's throw-away
# data) after taking the JVM down, since the parent that would have deleted it is gone.
set -u

exec 3<&0 </dev/null
"$@" 3<&- &
broker_pid=$!

# The watchdog uses only builtins while it waits, so killing it leaves no stray child behind.
(
  while read -r -u 3 _; do :; done
  trap '' TERM # from here on, finish the job even when the wrapper below tells us to stop
  kill -TERM "$broker_pid" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$broker_pid" 2>/dev/null
  [ -n "${RMAS_BROKER_TEMP_DIR:-}" ] && rm -rf -- "$RMAS_BROKER_TEMP_DIR"
) &
watchdog_pid=$!
exec 3<&-

trap 'kill -TERM "$broker_pid" 2>/dev/null' TERM INT HUP

# `wait` returns early when a trapped signal arrives: keep waiting while the broker still runs.
status=0
while :; do
  wait "$broker_pid"
  status=$?
  kill -0 "$broker_pid" 2>/dev/null || break
done

kill "$watchdog_pid" 2>/dev/null
wait "$watchdog_pid" 2>/dev/null
exit "$status"
