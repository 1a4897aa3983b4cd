// The end-to-end benchmark's Go app: the same routes as ../app.js, on
// net/http, one side per process:
//
//	go-app SIDE SOCKET_DIR PG_PORT PORT
//
// SIDE is scs-style (G1: scs's LoadAndSave and postgresstore, as
// scsstyle.go writes them out) or pgsession (G2: this project's
// clients/go).  Only the session layer differs.  GET /__count gives the
// statements sent to PostgreSQL so far.  It prints "ready" once listening.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"pgsession"
)

// the API both session layers give the routes
type sessions interface {
	Get(ctx context.Context, key string) any
	Put(ctx context.Context, key string, val any)
	Keys(ctx context.Context) []string
	RenewToken(ctx context.Context) error
}

const week = 7 * 24 * time.Hour

func main() {
	side, dir, pgPort, port := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	sql.Register("counting", countingDriver{})
	user, database := "app", "postgres"
	if side == "scs-style" {
		user, database = "legacy", "legacy"
	}
	db, err := sql.Open("counting", fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", dir, pgPort, user, database))
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)

	var s sessions
	var wrap func(http.Handler) http.Handler
	switch side {
	case "scs-style":
		if _, err := db.Exec(scsSchema); err != nil {
			panic(err)
		}
		m := &scsManager{db: db, idleTimeout: week}
		s, wrap = m, m.LoadAndSave
	case "pgsession":
		m, err := pgsession.New(db, "")
		if err != nil {
			panic(err)
		}
		m.IdleTimeout = week
		s, wrap = m, m.Handle
	default:
		panic("unknown side " + side)
	}

	userOf := func(r *http.Request) int {
		switch v := s.Get(r.Context(), "userId").(type) {
		case int:
			return v
		case json.Number:
			n, _ := strconv.Atoi(v.String())
			return n
		}
		return 0
	}
	send := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	digits := regexp.MustCompile(`\D`)
	mux := http.NewServeMux()
	// workload 3: a login (a new token, then the user)
	mux.HandleFunc("/api/login", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Username string }
		json.NewDecoder(r.Body).Decode(&body)
		id, _ := strconv.Atoi(digits.ReplaceAllString(body.Username, ""))
		if err := s.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s.Put(r.Context(), "userId", id)
		s.Put(r.Context(), "role", "member")
		send(w, map[string]any{"user": map[string]int{"id": id}})
	})
	// workload 1: an authenticated read, rolling expiry
	mux.HandleFunc("/api/me", func(w http.ResponseWriter, r *http.Request) {
		id := userOf(r)
		if id == 0 {
			http.Error(w, `{"error":"Unauthorized"}`, 401)
			return
		}
		send(w, map[string]any{"userId": id, "role": s.Get(r.Context(), "role")})
	})
	// workload 2: a GET that changes one key
	mux.HandleFunc("/api/visit", func(w http.ResponseWriter, r *http.Request) {
		if userOf(r) == 0 {
			http.Error(w, `{"error":"Unauthorized"}`, 401)
			return
		}
		n := 0
		switch v := s.Get(r.Context(), "visits").(type) {
		case int:
			n = v
		case json.Number:
			n, _ = strconv.Atoi(v.String())
		}
		s.Put(r.Context(), "visits", n+1)
		send(w, map[string]int{"visits": n + 1})
	})
	// workload 4: anonymous, stores nothing
	mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) {
		send(w, map[string]string{"hello": "world"})
	})
	// workload 5: add one cart item (each its own key)
	mux.HandleFunc("/api/cart/", func(w http.ResponseWriter, r *http.Request) {
		if userOf(r) == 0 {
			http.Error(w, `{"error":"Unauthorized"}`, 401)
			return
		}
		s.Put(r.Context(), "cart:"+strings.TrimPrefix(r.URL.Path, "/api/cart/"), 1)
		send(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("/api/cart", func(w http.ResponseWriter, r *http.Request) {
		items := []string{}
		for _, k := range s.Keys(r.Context()) {
			if strings.HasPrefix(k, "cart:") {
				items = append(items, strings.TrimPrefix(k, "cart:"))
			}
		}
		sort.Strings(items)
		send(w, items)
	})
	top := http.NewServeMux()
	top.HandleFunc("/__count", func(w http.ResponseWriter, r *http.Request) {
		send(w, map[string]int64{"calls": atomic.LoadInt64(&statements)})
	})
	top.Handle("/", wrap(mux))
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		panic(err)
	}
	fmt.Println("ready")
	panic(http.Serve(l, top))
}
