#!/usr/bin/env bash
# Bring up a real single-node Slurm (Debian 12 packages, Slurm 22.05) for CI, as root.
#
#   bash .ci/slurm-up.sh                  # slurmdbd + MariaDB accounting (sacct works)
#   SLURM_CI_MODE=nodb bash .ci/slurm-up.sh       # no accounting database (status via squeue only)
#   SLURM_CI_FAKE_GPUS=0 bash .ci/slurm-up.sh     # no GPU GRES (default: 4 fake GPUs)
#   SLURM_CI_CPUS=2 bash .ci/slurm-up.sh          # the node's CPUs (default: twice nproc)
#
# Installs what it needs (apt-get, only when missing), writes /etc/slurm/{slurm,gres,slurmdbd}.conf,
# starts munged, [mariadbd, slurmdbd,] slurmctld and slurmd by hand (no systemd here), waits until
# the node is idle and writes the daemons' PIDs, in stop order, to $SLURM_CI_PIDS for
# .ci/slurm-down.sh, which stops them by PID. Job state and the accounting database start empty
# (job ids start at 1). Exit status: 0 ready; 1 a step failed (its message on stderr);
# 2 cannot run here (not root, or Slurm missing and not installable: no apt-get, no package
# access) -- callers may skip on 2.
# The recipe and its pitfalls: ../shared/notes/slurm-ci.md (checked again for this project).
set -euo pipefail
MODE="${SLURM_CI_MODE:-dbd}"
FAKE_GPUS="${SLURM_CI_FAKE_GPUS:-4}"
PIDS="${SLURM_CI_PIDS:-/run/slurm-ci.pids}"
HERE="$(cd "$(dirname "$0")" && pwd)"
t0=$(date +%s%N)
step() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); echo "[slurm-up +$((ms / 1000)).$((ms % 1000 / 100))s] $*"; }
die() { echo "slurm-up: $*" >&2; exit 1; }
on_exit() {  # on failure: show the daemons' logs, then stop whatever was started
  local rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 2 ] && return
  for f in /var/log/slurm/*.log; do [ -s "$f" ] && { echo "== tail $f" >&2; tail -n 20 "$f" >&2; }; done
  [ -f "$PIDS" ] && bash "$HERE/slurm-down.sh" >&2
}
trap on_exit EXIT

wait_for() {  # wait_for <seconds> <description> <command...>
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "timeout ($limit s) waiting for $what"
    sleep 0.2
  done
}

case "$MODE" in dbd|nodb) ;; *) echo "slurm-up: SLURM_CI_MODE must be dbd or nodb, not '$MODE'" >&2; exit 1;; esac
[ "$(id -u)" = 0 ] || { echo "slurm-up: needs root (it installs packages and starts daemons)" >&2; exit 2; }

# A previous bring-up that was not stopped: stop it first (by its recorded PIDs).
[ -f "$PIDS" ] && bash "$HERE/slurm-down.sh"

PKGS="munge slurmctld slurmd slurm-client"
[ "$MODE" = dbd ] && PKGS="$PKGS slurmdbd mariadb-server"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || { echo "slurm-up: no apt-get to install$missing" >&2; exit 2; }
  step "apt-get install$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null || { echo "slurm-up: apt-get update failed (no package access?)" >&2; exit 2; }
  # policy-rc.d (containers) stops the packages' services from starting; this script starts them.
  apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $missing >/dev/null \
    || { echo "slurm-up: apt-get install$missing failed (no package access?)" >&2; exit 2; }
fi

step "munge"
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || mungekey --create --force
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 600 /etc/munge/munge.key
chmod 755 /run/munge
rm -f /run/munge/munged.pid
runuser -u munge -- /usr/sbin/munged --force
wait_for 10 munged bash -c 'munge -n | unmunge'
PIDLIST="$(cat /run/munge/munged.pid)"
record() { PIDLIST="$1 $PIDLIST"; printf '%s\n' $PIDLIST > "$PIDS"; }  # stop order: newest first
record ""  # munged alone, so that a failure below still stops it

NCPU="${SLURM_CI_CPUS:-$(( $(nproc) * 2 ))}"
MEM=$(awk '/MemTotal/ {print int($2/1024) - 1024}' /proc/meminfo)   # 1 GiB headroom
mkdir -p /etc/slurm /var/log/slurm
rm -rf /var/spool/slurmctld /var/spool/slurmd
mkdir -p /var/spool/slurmctld /var/spool/slurmd
rm -f /var/log/slurm/*.log

if [ "$MODE" = dbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
GRES_NODE=""; GRES_TYPES=""
if [ "$FAKE_GPUS" -gt 0 ]; then
  # gres/gpu needs File= naming character devices; clones of /dev/null will do (no task/cgroup,
  # so nothing opens or constrains them). Jobs still see CUDA_VISIBLE_DEVICES.
  for i in $(seq 0 $((FAKE_GPUS - 1))); do
    [ -c /run/fakegpu$i ] || mknod -m 666 /run/fakegpu$i c 1 3
  done
  echo "Name=gpu Type=fake File=/run/fakegpu[0-$((FAKE_GPUS - 1))]" > /etc/slurm/gres.conf
  GRES_NODE="Gres=gpu:fake:$FAKE_GPUS"; GRES_TYPES="GresTypes=gpu"
else
  rm -f /etc/slurm/gres.conf
fi

# Minimal single-node Slurm: no cgroups, everything as root. The node claims twice the machine's
# CPUs (config_overrides; no CPU binding, task/none): Snakemake's jobs spend much of their time
# starting up and waiting, and more of them at once keeps the machine's cores busy. What a job is
# allocated is still exactly what it asked for. OverTimeLimit=0 and KillWait=5 so that a job past
# its time limit is killed at slurmctld's next time-limit check (every 30 s). proctrack/pgid:
# with linuxproc a job's process that ignores SIGTERM and loses its parent (Snakemake inside a
# job that Slurm kills does both) escapes the final SIGKILL and lives on.
# One partition, `debug`. Comments (the plugin's rule_<rule>_wildcards_...) are kept in the
# accounting database, so sacct shows which rule each job ran.
# EnforcePartLimits=ALL (as on most production clusters) makes sbatch refuse a job that asks for
# more CPUs than the partition has; Slurm's default (NO) would leave it PENDING for ever
# (Reason=PartitionConfig). Too much memory or too many GPUs are refused either way.
cat > /etc/slurm/slurm.conf <<EOF
# Written by .ci/slurm-up.sh (CI only).
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$ACCT
JobCompType=jobcomp/none
EnforcePartLimits=ALL
AccountingStoreFlags=job_comment
MinJobAge=300
InactiveLimit=0
OverTimeLimit=0
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
$GRES_TYPES
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM $GRES_NODE State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if [ "$MODE" = dbd ]; then
  step "mariadb"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null 2>&1 || die "mariadb-install-db failed"
  rm -f /run/mariadb-ci.pid
  ( /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
      >/var/log/slurm/mariadb.log 2>&1 & echo $! > /run/mariadb-ci.pid )
  record "$(cat /run/mariadb-ci.pid)"
  wait_for 60 mariadb mariadb-admin ping
  mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db; CREATE DATABASE slurm_acct_db;
              CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmdbpass';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;" || die "database setup failed"
  cat > /etc/slurm/slurmdbd.conf <<'EOF'
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmdbpass
StorageLoc=slurm_acct_db
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
  step "slurmdbd"
  rm -f /run/slurmdbd.pid
  /usr/sbin/slurmdbd || die "slurmdbd did not start"
  wait_for 10 "slurmdbd pidfile" test -s /run/slurmdbd.pid
  record "$(cat /run/slurmdbd.pid)"
  wait_for 30 slurmdbd bash -c 'echo > /dev/tcp/127.0.0.1/6819'
fi

step "slurmctld + slurmd"
rm -f /run/slurmctld.pid /run/slurmd.pid
/usr/sbin/slurmctld || die "slurmctld did not start"
wait_for 10 "slurmctld pidfile" test -s /run/slurmctld.pid
record "$(cat /run/slurmctld.pid)"
/usr/sbin/slurmd -N localhost || die "slurmd did not start"   # node name independent of hostname
wait_for 10 "slurmd pidfile" test -s /run/slurmd.pid
record "$(cat /run/slurmd.pid)"
wait_for 60 "idle node" bash -c 'sinfo -h -o %t | grep -qx idle'

if [ "$MODE" = dbd ]; then
  step "accounting: cluster, account ciacct"
  wait_for 30 "cluster registration" bash -c 'sacctmgr -n -P list cluster format=cluster | grep -qx ci'
  sacctmgr -i add account ciacct Description=ci Organization=ci >/dev/null
  sacctmgr -i add user "$(id -un)" Account=ciacct DefaultAccount=ciacct >/dev/null
fi
step "ready: $(sinfo -h -o '%P %t cpus=%c mem=%m gres=%G')"
