package referral_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"rmref/internal/clock"
	"rmref/internal/db"
	"rmref/internal/testapp"
	"rmref/referral"
)

const crashHashKey = "crash-test-hash-key-0123456789"

// TestCrashKeepsAcknowledgedClicks builds rmref, serves a SQLite database,
// hammers a share link with concurrent clients, kills the server with
// SIGKILL mid-run, restarts it, and checks that every click whose 302 a
// client received is in the database exactly once.
func TestCrashKeepsAcknowledgedClicks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rmref")
	build := exec.Command("go", "build", "-o", bin, "rmref/cmd/rmref")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbPath := filepath.Join(dir, "crash.db")
	code := seedGeneralCode(t, dbPath)
	addr := freeAddr(t)
	srv := startServer(t, bin, dbPath, addr)
	acked := hammer(t, "http://"+addr+"/s/"+code+"/wechat_friend", 16, 2*time.Second, func() {
		_ = srv.Process.Signal(syscall.SIGKILL)
	})
	_ = srv.Wait()
	if len(acked) == 0 {
		t.Fatal("no click was acknowledged before the kill")
	}
	again := startServer(t, bin, dbPath, addr) // recovers the database
	defer func() { _ = again.Process.Signal(syscall.SIGTERM); _ = again.Wait() }()
	d, err := db.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var rows int
	_ = d.GetContext(context.Background(), &rows, `SELECT COUNT(*) FROM referral_clicks`)
	for id := range acked {
		var n int
		if err := d.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM referral_clicks WHERE click_id = ?`, id); err != nil || n != 1 {
			t.Fatalf("acknowledged click %s stored %d times (%v)", id, n, err)
		}
	}
	t.Logf("%d clicks acknowledged before SIGKILL, %d rows after restart", len(acked), rows)
}

// seedGeneralCode creates a migrated database with one staff member and
// their general code.
func seedGeneralCode(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := testapp.NewSeeder(t, d)
	staff := s.Staff("E1", "张三明", s.Unit("branch", "B1", "朝阳支行", 0))
	svc := referral.NewService(d, clock.System{}, campaigns{}, referral.Config{HashKey: []byte(crashHashKey)})
	defer svc.Close(ctx)
	c, err := svc.CodeFor(ctx, staff, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c.Code
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, bin, dbPath, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "RMREF_DB="+dbPath, "RMREF_LISTEN="+addr, "RMREF_LOG_LEVEL=error",
		"RMREF_JWT_SECRET=crash-test-jwt-secret-0123456789abcdef", "RMREF_HASH_KEY="+crashHashKey)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			return cmd
		}
	}
	_ = cmd.Process.Kill()
	t.Fatal("server did not start")
	return nil
}

// hammer sends clicks from workers for d, calls kill halfway, and returns
// the click ids of the 302s received.
func hammer(t *testing.T, link string, workers int, d time.Duration, kill func()) map[string]bool {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if id, ok := clickOnce(client, link); ok {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(d / 2)
	kill()
	wg.Wait()
	return acked
}

func clickOnce(client *http.Client, link string) (string, bool) {
	req, _ := http.NewRequest("GET", link, nil)
	req.Header.Set("User-Agent", browser)
	res, err := client.Do(req)
	if err != nil {
		return "", false
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return "", false
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		return "", false
	}
	tok, err := referral.VerifyToken([]byte(crashHashKey), loc.Query().Get(referral.TokenParam))
	if err != nil {
		return "", false
	}
	return tok.ClickID, true
}
