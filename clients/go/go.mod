module pgsession

go 1.19
