// Package layout holds no code: its test enforces that dependencies point one way across the repository
// (README "Development"): domain ← store ← server ← cmd, no service importing another service, and shared
// internal packages importing no service.
package layout
