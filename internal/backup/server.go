// Package backup takes consistent online backups of authsuite's bbolt files and restores them offline.
//
// Server implements authsuite.ops.v1.BackupService over the databases one process holds: each Backup is a
// snapshot as of one bbolt read transaction (tx.WriteTo), so it is consistent while writes go on. Fetch is
// the client side: it writes every database of a server into a directory, each file through a temporary
// name, fsync and rename, and writes manifest.json (sizes and SHA-256) last, so a directory without a
// manifest is never a complete backup. Restore verifies a backup directory and installs it into a data
// directory that no process has open.
package backup

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/internalauth"
)

// ChunkSize is the largest number of file bytes one BackupResponse carries.
const ChunkSize = 256 << 10

// validName is what a database name may look like: it becomes a file name (<name>.db).
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Deps are what a Server needs.
type Deps struct {
	// Databases maps a database name ("registry") to the open bbolt database it streams.
	Databases map[string]*bolt.DB
	// Auth verifies bearer tokens (a client of the system tenant with scope adminapi may back up).
	Auth bearer.Authenticator
	// InternalCredential, when not empty, also authorizes a call that carries it (internalauth.MetadataKey).
	InternalCredential string
	// Log receives one line per backup taken; nil discards.
	Log *slog.Logger
}

// Server implements opsv1.BackupServiceServer. It is safe for concurrent use.
type Server struct {
	opsv1.UnimplementedBackupServiceServer
	dbs  map[string]*bolt.DB
	auth bearer.Authenticator
	cred string
	log  *slog.Logger
}

// New returns a Server. It panics when a database name is not a valid file name stem, a programming error.
func New(d Deps) *Server {
	for name := range d.Databases {
		if !validName.MatchString(name) {
			panic(fmt.Sprintf("backup: invalid database name %q", name))
		}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{dbs: d.Databases, auth: d.Auth, cred: d.InternalCredential, log: d.Log}
}

// Register adds BackupService to gs.
func (s *Server) Register(gs grpc.ServiceRegistrar) { opsv1.RegisterBackupServiceServer(gs, s) }

// authorize admits the internal credential, or a client token of the system tenant with scope adminapi. A
// backup holds every tenant's data, so tenant administrators and user tokens are refused.
func (s *Server) authorize(ctx context.Context) (string, error) {
	if internalauth.HasCredential(ctx, s.cred) {
		return "internal", nil
	}
	tok, err := bearer.FromContext(ctx)
	if err != nil {
		return "", err
	}
	if s.auth == nil {
		return "", apierror.Unauthenticated("this server accepts no access tokens for backups")
	}
	info, err := s.auth.Authenticate(ctx, tok)
	if err != nil {
		return "", err
	}
	switch {
	case !info.HasScope(access.ScopeAdminAPI):
		return "", apierror.PermissionDenied("backups need scope %s", access.ScopeAdminAPI)
	case info.TenantID != access.SystemTenant:
		return "", apierror.PermissionDenied("backups hold every tenant: only clients of the system tenant may take them")
	case info.UserID != "":
		return "", apierror.PermissionDenied("backups are taken by a client (client_credentials), not a user")
	}
	return "client:" + info.ClientID, nil
}

// ListDatabases implements opsv1.BackupServiceServer.
func (s *Server) ListDatabases(ctx context.Context, _ *opsv1.ListDatabasesRequest) (*opsv1.ListDatabasesResponse, error) {
	if _, err := s.authorize(ctx); err != nil {
		return nil, err
	}
	resp := &opsv1.ListDatabasesResponse{}
	for _, name := range slices.Sorted(maps.Keys(s.dbs)) {
		var size int64
		if err := s.dbs[name].View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
			return nil, fmt.Errorf("database %s: %w", name, err)
		}
		resp.Databases = append(resp.Databases, &opsv1.Database{Name: name, SizeBytes: size})
	}
	return resp, nil
}

// Backup implements opsv1.BackupServiceServer. The snapshot is first copied, inside one read transaction,
// to a temporary file beside the database and then streamed from there: a read transaction left open for
// as long as a slow client takes would block every write that needs to grow the file's memory map.
func (s *Server) Backup(req *opsv1.BackupRequest, stream grpc.ServerStreamingServer[opsv1.BackupResponse]) error {
	ctx := stream.Context()
	who, err := s.authorize(ctx)
	if err != nil {
		return err
	}
	name := req.GetDatabase()
	if name == "" {
		return apierror.Invalid("database", "required: one of %s", strings.Join(slices.Sorted(maps.Keys(s.dbs)), ", "))
	}
	db, ok := s.dbs[name]
	if !ok {
		return apierror.NotFound("database %q (this server holds %s)", apierror.Clip(name, 64), strings.Join(slices.Sorted(maps.Keys(s.dbs)), ", "))
	}
	spool, err := os.CreateTemp(filepath.Dir(db.Path()), "."+name+".backup-*")
	if err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	var txid int
	var size int64
	err = db.View(func(tx *bolt.Tx) error {
		txid, size = tx.ID(), tx.Size()
		n, err := tx.WriteTo(spool)
		if err == nil && n != size {
			err = fmt.Errorf("wrote %d bytes of %d", n, size)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	if err := stream.Send(&opsv1.BackupResponse{Part: &opsv1.BackupResponse_Header{Header: &opsv1.BackupHeader{
		Database: name, SizeBytes: size, TransactionId: int64(txid),
	}}}); err != nil {
		return err
	}
	h := sha256.New()
	var sent int64
	for {
		// A fresh buffer per message: a sent message must not change afterwards (grpc.ServerStream.SendMsg).
		buf := make([]byte, ChunkSize)
		n, err := io.ReadFull(spool, buf)
		if n > 0 {
			h.Write(buf[:n])
			sent += int64(n)
			if err := stream.Send(&opsv1.BackupResponse{Part: &opsv1.BackupResponse_Chunk{Chunk: buf[:n]}}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("backup spool: %w", err)
		}
	}
	if sent != size {
		return fmt.Errorf("backup %s: spooled %d bytes of %d", name, sent, size)
	}
	if err := stream.Send(&opsv1.BackupResponse{Part: &opsv1.BackupResponse_Trailer{Trailer: &opsv1.BackupTrailer{Sha256: h.Sum(nil)}}}); err != nil {
		return err
	}
	s.log.Info("backup streamed", "database", name, "size_bytes", size, "transaction_id", txid, "by", who)
	return nil
}
