#!/usr/bin/env bash
# Measures the image against its targets, by hand (never a timed test):
# size, container start to healthy, idle memory, `docker stop` with long
# polls open, and what the health check costs at idle. Needs the image
# (docker/build-image.sh), curl and python3. Prints a Markdown table.
#
#   docker/measure-image.sh [TAG]      TAG defaults to sealq:dev
set -euo pipefail
tag=${1:-sealq:dev}
runs=5
name=sealq-measure-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

start() { # start the container; echo seconds from `docker run` to healthy
  local t0 status
  t0=$(now)
  docker run -d --name "$name" --read-only --cap-drop ALL --security-opt no-new-privileges \
    -p 127.0.0.1::9324 "$tag" >/dev/null
  for _ in $(seq 1 600); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$name")
    [ "$status" = healthy ] && { secs "$t0" "$(now)"; return; }
    sleep 0.01
  done
  echo "never healthy" >&2; exit 1
}

size=$(docker image inspect -f '{{.Size}}' "$tag")

healthy=()
for _ in $(seq 1 $runs); do
  healthy+=("$(start)")
  docker rm -f "$name" >/dev/null
done

start >/dev/null
sleep 5
mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$name" | cut -d/ -f1 | tr -d ' ')

# What the health check (every 0.5 s) costs at idle: CPU time of the
# container (the probes run in it) and of the Docker daemons, over 20 s.
cg_cpu() { docker stats --no-stream --format '{{.CPUPerc}}' "$name" | tr -d '%'; }
daemons() { for p in $(pgrep -f 'dockerd|containerd'); do awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null; done | paste -sd+ | bc; }
hz=$(getconf CLK_TCK)
d0=$(daemons); sleep 20; d1=$(daemons)
container_cpu=$(cg_cpu)
daemon_cpu=$(python3 -c "print(f'{($d1 - $d0) / $hz / 20 * 100:.1f}')")

# docker stop while 8 long polls (WaitTimeSeconds=20) are open.
port=$(docker port "$name" 9324/tcp | head -1 | cut -d: -f2)
sqs() { curl -s -H "X-Amz-Target: AmazonSQS.$1" -H 'Content-Type: application/x-amz-json-1.0' \
  -d "$2" "http://127.0.0.1:$port/"; }
url=$(sqs CreateQueue '{"QueueName":"polls"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["QueueUrl"])')
pids=()
for _ in $(seq 1 8); do
  sqs ReceiveMessage "{\"QueueUrl\":\"$url\",\"WaitTimeSeconds\":20}" >/dev/null & pids+=($!)
done
sleep 1
t0=$(now)
docker stop -t 10 "$name" >/dev/null
stop=$(secs "$t0" "$(now)")
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
for p in "${pids[@]}"; do wait "$p"; done
polls=$(secs "$t0" "$(now)")

sorted=$(printf '%s\n' "${healthy[@]}" | sort -n | paste -sd' ')
median=$(printf '%s\n' "${healthy[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
cat <<TABLE
| measure ($tag, $(docker version -f '{{.Server.Version}}')) | result | target |
|---|---:|---|
| image size (docker image inspect) | $(python3 -c "print(f'{$size/1e6:.2f}')") MB | <= 20 MB |
| docker run to healthy, median of $runs (all: $sorted s) | $median s | <= 1 s |
| idle memory 5 s after start (docker stats) | $mem | <= 15 MiB |
| docker stop with 8 long polls open (exit code $code; polls all answered after $polls s) | $stop s | <= 2 s, exit 0 |
| health check at idle: CPU of the container / of the Docker daemons | $container_cpu% / $daemon_cpu% of a core | |
TABLE
