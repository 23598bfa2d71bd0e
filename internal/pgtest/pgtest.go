// Package pgtest runs a real PostgreSQL server from Debian's packages
// (postgresql) for tests: started once for the test binary in a
// temporary directory, stopped by Stop (call it from TestMain), with a
// database of its own for each test.
package pgtest

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-sec/peregrine/internal/testenv"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

var pg struct {
	once sync.Once
	url  string // postgres://postgres@127.0.0.1:PORT/, a database name to add
	err  error
	stop func()
	n    int
	mu   sync.Mutex
}

// Stop stops the server, if it started.
func Stop() {
	if pg.stop != nil {
		pg.stop()
	}
}

// Server starts the test server on first use and returns its base URL
// (postgres://postgres@127.0.0.1:PORT/, a database name to add); it
// skips t where PostgreSQL is not installed, except under CI, where it
// fails.
func Server(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.url, pg.stop, pg.err = startPostgres() })
	if pg.err != nil {
		testenv.Unavailable(t, "PostgreSQL: %v (apt-get install postgresql)", pg.err)
	}
	return pg.url
}

// Database creates a database for one test and returns its URL.
func Database(t testing.TB) string {
	server := Server(t)
	pg.mu.Lock()
	pg.n++
	name := fmt.Sprintf("test_%d", pg.n)
	pg.mu.Unlock()
	db, err := sql.Open("pgx", server+"postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	return server + name + "?sslmode=disable"
}

// startPostgres runs initdb and postgres from Debian's packages, as the
// postgres user when this is root (PostgreSQL refuses to run as root).
func startPostgres() (string, func(), error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		return "", nil, fmt.Errorf("not installed (no /usr/lib/postgresql/*/bin/postgres)")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "peregrine-pg-")
	if err != nil {
		return "", nil, err
	}
	cred, err := postgresCredential(dir)
	if err != nil {
		return "", nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	server := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	server.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	logFile, _ := os.Create(filepath.Join(dir, "postgres.log"))
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		server.Process.Signal(syscall.SIGINT) // fast shutdown
		server.Wait()
		os.RemoveAll(dir)
	}
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", port)
	if err := waitPostgres(base + "postgres?sslmode=disable"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		stop()
		return "", nil, fmt.Errorf("%v\n%s", err, log)
	}
	return base, stop, nil
}

// postgresCredential is whom initdb and postgres run as: the postgres
// user, owning dir, when this is root; nil (this user) otherwise.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPostgres(url string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = db.Ping(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not answer: %w", err)
		}
	}
}
