#!/usr/bin/env bash
# Stop the daemons that .ci/slurm-up.sh started, by the PIDs it recorded, newest first
# (slurmd, slurmctld, [slurmdbd, mariadbd,] munged); never by name. Safe to run twice.
PIDS="${SLURM_CI_PIDS:-/run/slurm-ci.pids}"
[ -f "$PIDS" ] || exit 0
# Jobs first: a job's processes belong to slurmstepd, not to the daemons, and would outlive them
# (e.g. after a test timed out). This is the CI cluster, so every job on it is a test's.
jobs() { timeout 5 squeue -h -o %i 2>/dev/null; }   # bounded: squeue waits for a dead controller
if [ -n "$(jobs)" ]; then
  timeout 10 scancel --full --quiet $(jobs) 2>/dev/null
  for _ in $(seq 1 150); do [ -z "$(jobs)" ] && break; sleep 0.1; done
fi
alive() {  # running and not a zombie: daemons are re-parented to PID 1, which may reap them late
  [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
while read -r pid; do
  case "$pid" in ''|*[!0-9]*) continue;; esac
  alive "$pid" || continue
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "slurm-down: pid $pid ignored SIGTERM for 5 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
done < "$PIDS"
rm -f "$PIDS"
# With the Slurm client installed but no controller, every `snakemake` start would wait ~9 s:
# snakemake-executor-plugin-slurm runs `scontrol show config` when it is imported, and scontrol
# retries an absent controller. Moving the CI configuration aside makes scontrol fail at once;
# slurm-up.sh writes it again.
[ -f /etc/slurm/slurm.conf ] && grep -q '^# Written by .ci/slurm-up.sh' /etc/slurm/slurm.conf \
  && mv -f /etc/slurm/slurm.conf /etc/slurm/slurm.conf.ci-down
exit 0
