package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUnknownIDs: ids with no entry in the user and group tables are named
// as libsinsp names them: root for 0, <NA> otherwise, and the login user of
// a process no login started (loginuid -1) is <NA>.
func TestUnknownIDs(t *testing.T) {
	db := &userDB{users: map[uint32][3]string{1000: {"alice", "/home/alice", "/bin/bash"}},
		groups: map[uint32]string{1000: "alice"}}
	db.once.Do(func() {}) // the tables above, not the host's
	type names struct{ User, Home, Shell, Group, Login string }
	for _, tt := range []struct {
		uid, gid uint32
		login    int64
		want     names
	}{
		{1000, 1000, 1000, names{"alice", "/home/alice", "/bin/bash", "alice", "alice"}},
		{0, 0, -1, names{"root", "/root", "<NA>", "root", "<NA>"}},
		{4242, 4242, 0, names{"<NA>", "<NA>", "<NA>", "<NA>", "root"}},
		{4242, 4242, 4242, names{"<NA>", "<NA>", "<NA>", "<NA>", "<NA>"}},
	} {
		th := &Thread{UID: tt.uid, GID: tt.gid, LoginUID: tt.login}
		db.fill(th)
		got := names{th.User, th.HomeDir, th.Shell, th.Group, th.LoginUser}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("uid %d gid %d loginuid %d (-want +got):\n%s", tt.uid, tt.gid, tt.login, diff)
		}
	}
}
