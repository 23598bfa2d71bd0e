#!/bin/sh
# What testdata/falco_fields.jsonl recorded (TestFieldsAsFalco): harmless
# triggers of the upstream stable and incubating rules, run as root, in a
# session of their own with a bare environment, as
#   env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid -f /tmp/pgtrig/pg-trigger.sh
# (its commands' parent is named pg-trigger.sh, not sh, which the
# traversal rule ignores) while
#   peregrine agent -r falco_rules.yaml -r falco-incubating_rules.yaml \
#     -r falco_fields_rules.yaml --record all.jsonl -o store.enabled=false
# ran. The capture keeps the lines of this script's processes (grep
# pg-trigger) that the test's rules alert on: those whose "time" is the
# evt.time of an alert the agent printed meanwhile (each line carries its
# process and ancestors, so no other line is needed to replay it).
set -u
if [ "${1:-}" = nest ]; then # nest N CMD...: run CMD N processes further down
	n=$2
	shift 2
	if [ "$n" -gt 0 ]; then
		/tmp/pgtrig/pg-trigger.sh nest $((n - 1)) "$@"
		exit
	fi
	exec "$@"
fi
cd /tmp/pgtrig
PY=/usr/bin/python3
sleep 1
# fd.name and fd.nameraw: a path with ..
cat /etc/../etc/../etc/shadow > /dev/null
# proc.exepath of a program run through a symlink (sh -> dash)
/usr/bin/sh -c 'cat /etc/shadow > /dev/null; sleep 0.5'
# EXE_WRITABLE; a program just written, and its inode's times
cp /usr/bin/true /dev/shm/pg-trigger-true
/dev/shm/pg-trigger-true
rm -f /dev/shm/pg-trigger-true
cp /usr/bin/true pg-dropped && ./pg-dropped
rm -f pg-dropped
# proc.cmdline with a newline and a tab: a two-line script
$PY -c 'import os
open("/etc/shadow").close()	# read'
# symlink and hardlink over a sensitive file
ln -s /etc/shadow pg-link
ln /etc/shadow pg-hardlink
rm -f pg-link pg-hardlink
# shell history: unlinkat (name), unlink (path), rename (oldpath)
touch .bash_history && rm .bash_history
touch .bash_history && $PY -c 'import ctypes; ctypes.CDLL(None).unlink(b".bash_history")'
touch .bash_history && mv .bash_history pg-hist && rm pg-hist
# a log truncated, a file shredded
: > /var/log/pg-trigger.log && rm -f /var/log/pg-trigger.log
touch pg-shred && shred -u pg-shred
# setuid bit by fchmodat (filename) and fchmod (fd)
touch pg-suid && chmod u+s pg-suid
$PY -c 'import os; os.fchmod(os.open("pg-suid", os.O_RDONLY), 0o2755)'
rm -f pg-suid
# setuid(0) by a program that is not root
setpriv --reuid=65534 --regid=65534 --clear-groups $PY -c 'import ctypes; ctypes.CDLL(None).setuid(0)'
# a search for AWS credentials, as group daemon, by a process whose login
# user is nobody
sh -c 'echo 65534 > /proc/self/loginuid && exec setpriv --regid=1 --clear-groups grep -s aws_secret_access_key /dev/null'
# curl with a proxy in its environment
env -i HTTP_PROXY=http://127.0.0.1:9 /usr/bin/curl -s -m 1 http://127.0.0.1:9/
# bpf(BPF_PROG_LOAD) with no program
$PY -c 'import ctypes; ctypes.CDLL(None).syscall(321, 5, 0, 0)'
# ptrace: TRACEME, and ATTACH to a child
$PY -c 'import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)'
sleep 1 &
$PY -c "import ctypes, time; l = ctypes.CDLL(None); l.ptrace(16, $!, 0, 0); time.sleep(0.2); l.ptrace(17, $!, 0, 0)"
wait
# a program run from a memfd
$PY -c 'import os; fd = os.memfd_create("pg-payload"); os.write(fd, open("/usr/bin/true", "rb").read()); os.execv("/proc/self/fd/%d" % fd, ["pg-payload"])'
# loopback TCP between fixed ports, stdout dup'd to the socket, a packet socket
$PY -c '
import os, socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 47211)); srv.listen()
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("127.0.0.1", 47212)); c.connect(("127.0.0.1", 47211))
a, _ = srv.accept()
os.dup2(c.fileno(), 1)
socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
'
# a write to a release_agent file with two capabilities only
setpriv --bounding-set=-all,+dac_override,+sys_admin touch release_agent
rm -f release_agent
# a server program two processes down reads a sensitive file after
# startup, then runs a shell
/tmp/pgtrig/pg-trigger.sh nest 1 ln -sf $PY httpd
/tmp/pgtrig/pg-trigger.sh nest 2 /tmp/pgtrig/httpd -c 'import os, time; time.sleep(5.5); open("/etc/shadow").close(); os.system("true")'
rm -f httpd
# a sensitive file read on a terminal
script -qc 'cat /etc/shadow' /dev/null > /dev/null
sleep 1
touch /tmp/pgtrig/done
