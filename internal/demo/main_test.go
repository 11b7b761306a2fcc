package demo

import (
	"os"
	"testing"

	"rmref/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
