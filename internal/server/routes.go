package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// routes registers every route. Each domain registers its own in its file;
// the OpenAPI document (openapi/*.json) must list exactly these routes.
func (s *Server) routes() {
	r := s.engine
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/api/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", s.openapi) })
	v1 := r.Group("/api/v1")
	s.registerAuthRoutes(v1)
	s.registerOrgRoutes(v1)
	s.registerCampaignRoutes(v1)
	s.registerReferralRoutes(v1, r)
	s.registerCustomerRoutes(v1)
	s.registerAttributionRoutes(v1)
	s.registerReportRoutes(v1)
	s.registerLeadRoutes(v1)
	s.registerPerkRoutes(v1)
	s.registerIncentiveRoutes(v1)
}

func (s *Server) readyz(c *gin.Context) {
	if err := s.DB.PingContext(c.Request.Context()); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "down"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "database": s.DB.Dialect.Name()})
}
