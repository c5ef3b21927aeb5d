package availability_test

import (
	"testing"

	"github.com/wedsync/vendorhub/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
