package server

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"rmref/attribution"
)

// registerCustomerRoutes registers identity links from upstream systems.
func (s *Server) registerCustomerRoutes(v1 *gin.RouterGroup) {
	svc := s.newAttribution()
	v1.POST("/identities", s.requireClient(), requireScope(s, scopeIdentitiesWrite), func(c *gin.Context) {
		var in attribution.IdentityInput
		if err := bindJSON(c, &in); err != nil {
			s.fail(c, err)
			return
		}
		res, err := svc.LinkIdentities(c.Request.Context(), in, principal(c).Actor())
		if err != nil {
			s.fail(c, err)
			return
		}
		ok(c, http.StatusOK, gin.H{"cluster_id": strconv.FormatInt(res.Cluster.ID, 10), "customer_id": res.Cluster.CustomerNo(),
			"identifiers": len(res.Cluster.Identifiers), "merged": res.Merged()})
	})
}
