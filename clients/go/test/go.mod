// The tests of pgsession, a module of their own so that pgsession itself
// requires nothing but the standard library.  They build offline against
// Debian's lib/pq (golang-github-lib-pq-dev), with no module proxy:
// GOFLAGS=-mod=mod GOPROXY=off go test (scripts/test runs them).
module pgsession/test

go 1.19

require (
	github.com/lib/pq v1.10.7
	pgsession v0.0.0
)

replace (
	github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
	pgsession => ../
)
