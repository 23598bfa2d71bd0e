package allinone

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // as main does: no debug banner in test output
	os.Exit(m.Run())
}
