package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"manouche/core/cache"
)

// A token lookup read through the cache; logout revokes it in the database,
// then in the cache.
func ExampleCache_Once() {
	c, err := cache.New(cache.Config{}) // in process; cache.Config{RedisURL: os.Getenv("REDIS_URL")} in production
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	tokens := map[string]string{"hash-of-token": "user-1"} // the database

	lookup := func(ctx context.Context) (any, error) {
		uid, ok := tokens["hash-of-token"]
		if !ok {
			return nil, fmt.Errorf("users: token: %w", cache.ErrNotFound)
		}
		return uid, nil
	}
	var uid string
	err = c.Once(ctx, "token:hash-of-token", &uid, 5*time.Minute, lookup)
	fmt.Println(uid, err)

	delete(tokens, "hash-of-token")          // logout: the database first,
	_ = c.Delete(ctx, "token:hash-of-token") // then the cache
	err = c.Once(ctx, "token:hash-of-token", &uid, 5*time.Minute, lookup)
	fmt.Println(errors.Is(err, cache.ErrNotFound))
	// Output:
	// user-1 <nil>
	// true
}
