package runtime

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
)

// userDB maps uids and gids to names from /etc/passwd and /etc/group,
// read once: the agent runs on the host, where these are the host's users.
type userDB struct {
	once   sync.Once
	users  map[uint32][3]string // name, home, shell
	groups map[uint32]string
}

func (u *userDB) load() {
	u.users, u.groups = map[uint32][3]string{}, map[uint32]string{}
	eachLine("/etc/passwd", func(f []string) {
		if len(f) >= 7 {
			if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				u.users[uint32(id)] = [3]string{f[0], f[5], f[6]}
			}
		}
	})
	eachLine("/etc/group", func(f []string) {
		if len(f) >= 3 {
			if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				u.groups[uint32(id)] = f[0]
			}
		}
	})
}

func eachLine(path string, fn func([]string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(strings.Split(sc.Text(), ":"))
	}
}

// fill sets the user and group names of th from its ids. An id with no
// entry is named as libsinsp names it: root for 0, <NA> otherwise (the
// login uid -1 of a process no login started, too).
func (u *userDB) fill(th *Thread) {
	u.once.Do(u.load)
	th.User, th.HomeDir, th.Shell = unknownUser(int64(th.UID))
	if e, ok := u.users[th.UID]; ok {
		th.User, th.HomeDir, th.Shell = e[0], e[1], e[2]
	}
	th.Group = "<NA>"
	if g, ok := u.groups[th.GID]; ok {
		th.Group = g
	} else if th.GID == 0 {
		th.Group = "root"
	}
	th.LoginUser, _, _ = unknownUser(th.LoginUID)
	if e, ok := u.users[uint32(th.LoginUID)]; ok && th.LoginUID >= 0 {
		th.LoginUser = e[0]
	}
}

// unknownUser is libsinsp's user for an id missing from the user table:
// name, home and shell.
func unknownUser(id int64) (string, string, string) {
	if id == 0 {
		return "root", "/root", "<NA>"
	}
	return "<NA>", "<NA>", "<NA>"
}

// lookup returns the name of a uid.
func (u *userDB) lookup(uid uint32) (string, bool) {
	u.once.Do(u.load)
	e, ok := u.users[uid]
	return e[0], ok
}
