package settings_test

import (
	"strings"
	"testing"
	"time"
)

// The connection budget of Heroku's smallest Postgres and Redis plans: 20
// connections each for every dyno together. The processes that may hold
// connections at once: two web dynos, a worker, the release phase and one
// `heroku run`.
const (
	planConnections = 20
	processes       = 2 + 1 + 1 + 1
)

func TestProductionConnectionBudget(t *testing.T) {
	t.Parallel()
	st := mustLoad(t, "production", []string{"SECRET_KEY=" + strings.Repeat("s", 60), "DATABASE_URL=postgres://u:p@db:5432/app"}, nil)
	if !st.DatabaseRequireTLS {
		t.Error("production: DATABASE_REQUIRE_TLS is off; Heroku Postgres requires TLS")
	}
	if st.DBMaxConns < 1 || processes*st.DBMaxConns > planConnections {
		t.Errorf("DB_MAX_CONNS=%d: %d processes x %d = %d, over the plan's %d", st.DBMaxConns, processes, st.DBMaxConns, processes*st.DBMaxConns, planConnections)
	}
	if st.DBMaxIdleConns < 1 || st.DBMaxIdleConns > st.DBMaxConns {
		t.Errorf("DB_MAX_IDLE_CONNS=%d, want 1..DB_MAX_CONNS", st.DBMaxIdleConns)
	}
	if st.DBConnMaxLifetime <= 0 || st.DBConnMaxLifetime > time.Hour {
		t.Errorf("DB_CONN_MAX_LIFETIME=%s, want a bounded lifetime", st.DBConnMaxLifetime)
	}
	// Each process holds the command pool plus the cache's Pub/Sub connection.
	if st.RedisMaxConns < 1 || processes*(st.RedisMaxConns+1) > planConnections {
		t.Errorf("REDIS_MAX_CONNS=%d: %d processes x (%d+1) is over the plan's %d", st.RedisMaxConns, processes, st.RedisMaxConns, planConnections)
	}
	if dev := mustLoad(t, "development", nil, nil); dev.DatabaseRequireTLS {
		t.Error("development requires TLS of a local Postgres")
	}
}

func TestPoolSettingsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	st := mustLoad(t, "development", []string{"DB_MAX_CONNS=7", "DB_MAX_IDLE_CONNS=0", "DB_CONN_MAX_LIFETIME=600", "REDIS_MAX_CONNS=9",
		"DATABASE_URL=postgres://u:p@db/app", "DATABASE_CONNECTION_POOL_URL=postgres://u:p@db:6000/app"}, nil)
	if st.DBMaxConns != 7 || st.DBMaxIdleConns != 0 || st.DBConnMaxLifetime != 10*time.Minute || st.RedisMaxConns != 9 {
		t.Errorf("got DB_MAX_CONNS=%d DB_MAX_IDLE_CONNS=%d DB_CONN_MAX_LIFETIME=%s REDIS_MAX_CONNS=%d", st.DBMaxConns, st.DBMaxIdleConns, st.DBConnMaxLifetime, st.RedisMaxConns)
	}
	if st.DatabaseConnectionPoolURL != "postgres://u:p@db:6000/app" {
		t.Errorf("DATABASE_CONNECTION_POOL_URL = %q", st.DatabaseConnectionPoolURL)
	}
	if strings.Contains(st.String(), "u:p@db:6000") {
		t.Error("`settings` shows DATABASE_CONNECTION_POOL_URL's password")
	}
}
