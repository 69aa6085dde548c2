#!/usr/bin/env bash
# A local S3-compatible server for slugstore's tests and for trying `s3://` remotes by hand.
#
# Runs Ceph as a single node on 127.0.0.1 in a directory of its own: one monitor, one manager, one
# bluestore OSD on a sparse file, and the RADOS Gateway (RGW) with its beast frontend. RGW is a real
# S3 implementation (SigV4, multipart uploads, `If-None-Match: *` create-only PUTs), so the code
# paths exercised against it are the ones used against AWS S3 or any other S3 store.
#
# Usage: scripts/rgw.sh install|start|stop|status|env|destroy
#
#   install   apt-get install the Ceph packages (Debian: ceph-mon ceph-osd ceph-mgr radosgw ceph-common)
#   start     create the cluster on first use, start the daemons, wait for the S3 endpoint, create the
#             test user and bucket; idempotent (does nothing but check when already running)
#   stop      stop the daemons (data is kept for the next start)
#   status    say whether the daemons run and the endpoint answers; exit 0 only when it does
#   env       print `export ...` lines for the AWS SDK variables and the test bucket:
#             eval "$(scripts/rgw.sh env)"
#   destroy   stop and delete the cluster's directory
#
# Settings (environment):
#   SLUGSTORE_RGW_DIR    where the cluster lives (default: $XDG_CACHE_HOME or ~/.cache, /slugstore-rgw)
#   SLUGSTORE_RGW_PORT   RGW's HTTP port on 127.0.0.1 (default 7480)
#   SLUGSTORE_RGW_MON_PORT  the monitor's msgr2 port (default 3300; msgr1 uses port + 1)
#   SLUGSTORE_RGW_BUCKET the bucket created for tests (default slugstore-test)
#
# Authentication between the Ceph daemons is off (`auth ... = none`): the cluster only listens on
# loopback and exists for tests. The S3 keys `env` prints are fixed test keys, not secrets.
set -euo pipefail

RGW_DIR="${SLUGSTORE_RGW_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/slugstore-rgw}"
RGW_PORT="${SLUGSTORE_RGW_PORT:-7480}"
MON_PORT="${SLUGSTORE_RGW_MON_PORT:-3300}"
BUCKET="${SLUGSTORE_RGW_BUCKET:-slugstore-test}"
ACCESS_KEY="slugstore-test-access"
SECRET_KEY="slugstore-test-secret"
REGION="us-east-1"
ENDPOINT="http://127.0.0.1:${RGW_PORT}"
CONF="$RGW_DIR/ceph.conf"
# Size of the OSD's sparse block file: only written blocks take disk space.
OSD_BLOCK_SIZE=$((20 * 1024 * 1024 * 1024))
DAEMONS=(mon.a mgr.x osd.0 client.rgw)

log() { printf 'rgw.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

ceph_cmd() { ceph -c "$CONF" --connect-timeout 10 "$@"; }

# Prints the pid of a daemon if it runs.
daemon_pid() {
    local pidfile="$RGW_DIR/run/$1.pid" pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

endpoint_answers() {
    curl -s -o /dev/null --max-time 2 "$ENDPOINT/"
}

# A signed S3 request with the test keys (curl's SigV4 support). Prints the HTTP status.
s3_request() {
    local method=$1 path=$2 how
    shift 2
    how=(-X "$method")
    [[ $method == HEAD ]] && how=(--head)
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${how[@]}" \
        --aws-sigv4 "aws:amz:${REGION}:s3" --user "${ACCESS_KEY}:${SECRET_KEY}" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$ENDPOINT/$path" || true
}

cmd_install() {
    local pkgs=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common curl) installed
    installed=$(dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | grep -c 'install ok installed' || true)
    if ((installed != ${#pkgs[@]})); then
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        log "installing ${pkgs[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            "${pkgs[@]}" >/dev/null
    fi
    log "installed: $(ceph --version)"
}

write_conf() {
    local fsid=$1
    cat >"$CONF" <<EOF
# Single-node Ceph cluster for local S3 tests; written by scripts/rgw.sh.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:${MON_PORT},v1:127.0.0.1:$((MON_PORT + 1))]
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# With auth off, clients must still agree with the monitor on the wire mode or RGW loops on auth.
ms mon client mode = crc
run dir = $RGW_DIR/run
pid file = $RGW_DIR/run/\$name.pid
admin socket = $RGW_DIR/run/\$name.asok
log file = $RGW_DIR/log/\$name.log
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail crit = 1
mon data avail warn = 2
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false

[mon.a]
mon data = $RGW_DIR/mon
mon initial members = a

[mgr.x]
mgr data = $RGW_DIR/mgr

[osd.0]
osd data = $RGW_DIR/osd
osd objectstore = bluestore
bluestore block path = $RGW_DIR/osd-block
bluestore block create = true
bluestore block size = $OSD_BLOCK_SIZE
osd memory target = 1073741824
osd max object size = 1073741824

[client.rgw]
# Without TCP_NODELAY, a response RGW writes in two pieces (headers, then a small body: every GET of an
# idx or a record, every refused create-only PUT) waits ~40 ms for the client's delayed ACK.
rgw frontends = beast endpoint=127.0.0.1:${RGW_PORT} tcp_nodelay=1
rgw data = $RGW_DIR/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
# Deleted objects' data is reclaimed within a minute instead of hours, so a test server that runs
# many full-size pushes and deletes them (the benchmark does) does not fill its OSD.
rgw gc obj min wait = 0
rgw gc processor period = 30
EOF
}

# Creates the cluster's directory, monitor store and OSD on first use.
bootstrap() {
    [[ -f $RGW_DIR/.bootstrapped ]] && return 0
    command -v ceph-mon >/dev/null || die "Ceph is not installed: run scripts/rgw.sh install"
    log "creating a single-node cluster in $RGW_DIR"
    # A previous bootstrap that failed half-way may have left daemons and files behind.
    [[ -d $RGW_DIR/run ]] && cmd_stop
    rm -rf "$RGW_DIR"
    mkdir -p "$RGW_DIR"/{run,log,mon,mgr,osd,rgw}
    local fsid
    fsid=$(cat /proc/sys/kernel/random/uuid)
    write_conf "$fsid"
    monmaptool --create --fsid "$fsid" \
        --addv a "[v2:127.0.0.1:${MON_PORT},v1:127.0.0.1:$((MON_PORT + 1))]" \
        "$RGW_DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$RGW_DIR/monmap"
    start_daemon mon.a ceph-mon -c "$CONF" -i a
    local osd_uuid
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    ceph_cmd osd new "$osd_uuid" >/dev/null
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>>"$RGW_DIR/log/osd-mkfs.log"
    touch "$RGW_DIR/.bootstrapped"
}

start_daemon() {
    local name=$1
    shift
    daemon_pid "$name" >/dev/null && return 0
    # The daemons fork into the background; what they print before that goes to the log dir.
    local rc=0
    "$@" 2>>"$RGW_DIR/log/$name.stderr" || rc=$?
    if ((rc != 0)); then
        tail -n 5 "$RGW_DIR/log/$name.stderr" >&2 || true
        die "$name exited with status $rc (a full disk makes ceph-mon exit with 28)"
    fi
}

wait_for() {
    local what=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || die "$what did not come up within ${timeout}s (logs: $RGW_DIR/log)"
        sleep 0.5
    done
}

osd_up() { ceph_cmd osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

# Creates the S3 test user and bucket if they are missing.
ensure_user_and_bucket() {
    if ! radosgw-admin -c "$CONF" user info --uid=slugstore-test >/dev/null 2>&1; then
        radosgw-admin -c "$CONF" user create --uid=slugstore-test --display-name="slugstore tests" \
            --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
    fi
    local status
    status=$(s3_request HEAD "$BUCKET")
    if [[ $status != 200 ]]; then
        status=$(s3_request PUT "$BUCKET")
        [[ $status == 200 ]] || die "creating bucket $BUCKET failed with HTTP $status"
    fi
}

cmd_start() {
    command -v radosgw >/dev/null || die "Ceph is not installed: run scripts/rgw.sh install"
    bootstrap
    # A cluster made by an older version of this script gets this version's settings (same fsid).
    write_conf "$(sed -n 's/^fsid = //p' "$CONF")"
    start_daemon mon.a ceph-mon -c "$CONF" -i a
    start_daemon mgr.x ceph-mgr -c "$CONF" -i x
    start_daemon osd.0 ceph-osd -c "$CONF" -i 0
    wait_for "osd.0" 120 osd_up
    start_daemon client.rgw radosgw -c "$CONF" -n client.rgw
    wait_for "RGW on $ENDPOINT" 120 endpoint_answers
    ensure_user_and_bucket
    log "S3 endpoint $ENDPOINT is up (bucket $BUCKET)"
    warn_if_full
}

# The OSD is a 20 GiB file: many full-size pushes fill it, and a full cluster does not fail writes, it
# holds them (a push or an rclone copy then hangs). Say so at start, with the way out.
warn_if_full() {
    local health
    health="$(ceph_cmd health 2>/dev/null || true)"
    case "$health" in
    *full*|*FULL*)
        log "WARNING: the test cluster is (nearly) full ($health): writes will hang;" \
            "run \`$0 destroy\` then \`$0 start\` for an empty one"
        ;;
    esac
}

cmd_stop() {
    local name pid pids=() names=()
    # SIGTERM to all at once (each takes seconds to shut down), then wait for each.
    for name in "${DAEMONS[@]}"; do
        pid=$(daemon_pid "$name") || continue
        kill "$pid" 2>/dev/null || true
        pids+=("$pid")
        names+=("$name")
    done
    local deadline=$((SECONDS + 20)) i
    for i in "${!pids[@]}"; do
        while kill -0 "${pids[i]}" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if kill -0 "${pids[i]}" 2>/dev/null; then
            log "${names[i]} (pid ${pids[i]}) did not stop on SIGTERM, killing it"
            kill -9 "${pids[i]}" 2>/dev/null || true
        fi
        rm -f "$RGW_DIR/run/${names[i]}.pid"
    done
    log "stopped"
}

cmd_status() {
    local name pid rc=0
    for name in "${DAEMONS[@]}"; do
        if pid=$(daemon_pid "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: stopped"
            rc=1
        fi
    done
    if endpoint_answers; then
        echo "S3 endpoint $ENDPOINT: answers"
    else
        echo "S3 endpoint $ENDPOINT: no answer"
        rc=1
    fi
    return $rc
}

cmd_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export SLUGSTORE_S3_ENDPOINT=$ENDPOINT
export SLUGSTORE_S3_BUCKET=$BUCKET
EOF
}

cmd_destroy() {
    cmd_stop
    rm -rf "$RGW_DIR"
    log "removed $RGW_DIR"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
destroy) cmd_destroy ;;
*)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
    exit 2
    ;;
esac
