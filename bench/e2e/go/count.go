package main

// A database/sql driver that is lib/pq's, counting the statements sent
// (what GET /__count reports), with every optional interface passed
// through so that database/sql talks to lib/pq as it would directly.

import (
	"context"
	"database/sql/driver"
	"sync/atomic"

	"github.com/lib/pq"
)

var statements int64

type countingDriver struct{}

func (countingDriver) Open(name string) (driver.Conn, error) {
	c, err := pq.Driver{}.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{c}, nil
}

type conn struct{ driver.Conn }

type full interface {
	driver.QueryerContext
	driver.ExecerContext
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	atomic.AddInt64(&statements, 1)
	return c.Conn.(full).QueryContext(ctx, q, args)
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	atomic.AddInt64(&statements, 1)
	return c.Conn.(full).ExecContext(ctx, q, args)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	atomic.AddInt64(&statements, 1)
	t, err := c.Conn.(full).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countedTx{t}, nil
}

// countedTx counts its COMMIT or ROLLBACK.
type countedTx struct{ driver.Tx }

func (t countedTx) Commit() error {
	atomic.AddInt64(&statements, 1)
	return t.Tx.Commit()
}

func (t countedTx) Rollback() error {
	atomic.AddInt64(&statements, 1)
	return t.Tx.Rollback()
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(full).PrepareContext(ctx, q)
}
