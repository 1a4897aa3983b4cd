package test

// A throwaway PostgreSQL server for the tests (initdb in a temporary
// directory, a Unix socket only, UTF8), with the extension and an app role
// granted only the request functions; with PGBOUNCER naming Debian's
// pgbouncer, the app connects through it in transaction pooling.

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// requestFunctions are what an app role is granted.
const requestFunctions = `session_create(text, jsonb, interval, interval), session_touch(text),
	session_get(text), session_regenerate(text, text), session_merge(text, jsonb, text[]),
	session_destroy(text), session_destroy_user(text, text)`

var (
	dir     string
	port    int
	bouncer *exec.Cmd
	// app: the app role, through pgbouncer when it runs; admin: postgres, direct
	app, admin *sql.DB
	// appDSN: how the app role connects (lib/pq's key=value form)
	appDSN string
)

func bindir() string {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d
	}
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		fatal("pg_config --bindir: %v (set PG_BINDIR)", err)
	}
	return strings.TrimSpace(string(out))
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgsession tests: "+format+"\n", args...)
	if dir != "" {
		stop()
	}
	os.Exit(1)
}

func run(name string, args ...string) {
	cmd := exec.Command(filepath.Join(bindir(), name), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fatal("%s: %v\n%s", name, err, out)
	}
}

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "pgsession tests: initdb refuses root; run them as an unprivileged user")
		os.Exit(1)
	}
	var err error
	if dir, err = os.MkdirTemp("", "pgsession-go-"); err != nil {
		fatal("%v", err)
	}
	port = 57000 + os.Getpid()%1000
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-E", "UTF8", "--locale=C", "-A", "trust", "-U", "postgres")
	conf := fmt.Sprintf(`
listen_addresses = ''
unix_socket_directories = '%s'
port = %d
shared_preload_libraries = 'session'
session.prune_interval = 0
`, dir, port)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		fatal("%v", err)
	}
	f.WriteString(conf)
	f.Close()
	run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "start")
	admin = open("postgres", port)
	for _, q := range []string{
		"CREATE EXTENSION session",
		"CREATE ROLE app LOGIN",
		"GRANT EXECUTE ON FUNCTION " + requestFunctions + " TO app",
		// every touch writes, so that a blocked row blocks it
		"ALTER ROLE app SET session.touch_interval = 0",
	} {
		if _, err := admin.Exec(q); err != nil {
			fatal("%s: %v", q, err)
		}
	}
	appPort := port
	if b := os.Getenv("PGBOUNCER"); b != "" {
		appPort = startBouncer(b)
	}
	appDSN = dsn("app", appPort, "postgres")
	app = open("app", appPort)
	code := m.Run()
	app.Close()
	admin.Close()
	stop()
	os.Exit(code)
}

func dsn(user string, port int, db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", dir, port, user, db)
}

func open(user string, port int) *sql.DB {
	return openDB(user, port, "postgres")
}

func openDB(user string, port int, name string) *sql.DB {
	db, err := sql.Open("postgres", dsn(user, port, name))
	if err != nil {
		fatal("%v", err)
	}
	db.SetMaxOpenConns(10)
	return db
}

func startBouncer(binary string) int {
	bport := port + 500
	users := filepath.Join(dir, "users.txt")
	os.WriteFile(users, []byte(`"app" ""`+"\n"), 0o600)
	ini := filepath.Join(dir, "pgbouncer.ini")
	os.WriteFile(ini, []byte(fmt.Sprintf(`[databases]
* = host=%[1]s port=%[2]d
[pgbouncer]
listen_addr =
unix_socket_dir = %[1]s
listen_port = %[3]d
auth_type = trust
auth_file = %[4]s
pool_mode = transaction
; lib/pq sends extra_float_digits at start-up, which pgbouncer refuses unless told
ignore_startup_parameters = extra_float_digits
max_client_conn = 100
default_pool_size = 10
logfile = %[1]s/pgbouncer.log
pidfile = %[1]s/pgbouncer.pid
`, dir, port, bport, users)), 0o600)
	bouncer = exec.Command(binary, ini)
	if err := bouncer.Start(); err != nil {
		fatal("pgbouncer: %v", err)
	}
	sock := filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", bport))
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			return bport
		}
		time.Sleep(25 * time.Millisecond)
	}
	fatal("pgbouncer did not start")
	return 0
}

func stop() {
	if bouncer != nil && bouncer.Process != nil {
		bouncer.Process.Kill()
		bouncer.Wait()
	}
	exec.Command(filepath.Join(bindir(), "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop").Run()
	os.RemoveAll(dir)
}

// psql runs q as postgres and gives its one value as text ("" for NULL or no row).
func psql(t *testing.T, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	err := admin.QueryRow(q, args...).Scan(&v)
	if err == sql.ErrNoRows {
		return ""
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}
