// The end-to-end benchmark's Go app (bench/e2e/run builds it offline,
// against this repository's clients/go and Debian's lib/pq).
module e2egoapp

go 1.19

require (
	github.com/lib/pq v1.10.7
	pgsession v0.0.0
)

replace (
	github.com/lib/pq => /usr/share/gocode/src/github.com/lib/pq
	pgsession => ../../../clients/go
)
