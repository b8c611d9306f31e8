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
	clientv3 "go.etcd.io/etcd/client/v3"
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
	// Etcd, when set, is the cluster of a suite on etcd: the server then also lists the database
	// EtcdDatabase, an etcd dump of every key under EtcdPrefix at one revision (DumpEtcd).
	Etcd       *clientv3.Client
	EtcdPrefix string
	// SpoolDir is where an etcd dump is spooled before it is streamed (default os.TempDir()).
	SpoolDir string
}

// Server implements opsv1.BackupServiceServer. It is safe for concurrent use.
type Server struct {
	opsv1.UnimplementedBackupServiceServer
	dbs  map[string]*bolt.DB
	auth bearer.Authenticator
	cred string
	log  *slog.Logger

	etcd       *clientv3.Client
	etcdPrefix string
	spoolDir   string
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
	if d.SpoolDir == "" {
		d.SpoolDir = os.TempDir()
	}
	return &Server{dbs: d.Databases, auth: d.Auth, cred: d.InternalCredential, log: d.Log,
		etcd: d.Etcd, etcdPrefix: d.EtcdPrefix, spoolDir: d.SpoolDir}
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
	if s.etcd != nil {
		resp.Databases = append(resp.Databases, &opsv1.Database{Name: EtcdDatabase}) // its size is known once dumped
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
	names := slices.Sorted(maps.Keys(s.dbs))
	if s.etcd != nil {
		names = append(names, EtcdDatabase)
	}
	if name == "" {
		return apierror.Invalid("database", "required: one of %s", strings.Join(names, ", "))
	}
	if name == EtcdDatabase && s.etcd != nil {
		return s.backupEtcd(stream, who)
	}
	db, ok := s.dbs[name]
	if !ok {
		return apierror.NotFound("database %q (this server holds %s)", apierror.Clip(name, 64), strings.Join(names, ", "))
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
	if err := sendSpool(stream, spool, name, size, int64(txid)); err != nil {
		return err
	}
	s.log.Info("backup streamed", "database", name, "size_bytes", size, "transaction_id", txid, "by", who)
	return nil
}

// backupEtcd streams an etcd dump of the suite's keys, spooled first to a temporary file so that a slow
// client holds no etcd revision from compaction longer than the dump takes. The header's transaction id is
// the etcd revision of the dump.
func (s *Server) backupEtcd(stream grpc.ServerStreamingServer[opsv1.BackupResponse], who string) error {
	if err := os.MkdirAll(s.spoolDir, 0o700); err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	spool, err := os.CreateTemp(s.spoolDir, ".etcd.backup-*")
	if err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	h, err := DumpEtcd(stream.Context(), s.etcd, s.etcdPrefix, spool)
	if err != nil {
		return fmt.Errorf("backup of %s in etcd: %w", s.etcdPrefix, err)
	}
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	if err := sendSpool(stream, spool, EtcdDatabase, size, h.Revision); err != nil {
		return err
	}
	s.log.Info("backup streamed", "database", EtcdDatabase, "size_bytes", size, "revision", h.Revision, "keys", h.Keys, "by", who)
	return nil
}

// sendSpool streams the size bytes of spool as database name: header, chunks, trailer with their SHA-256.
func sendSpool(stream grpc.ServerStreamingServer[opsv1.BackupResponse], spool *os.File, name string, size, txid int64) error {
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup spool: %w", err)
	}
	if err := stream.Send(&opsv1.BackupResponse{Part: &opsv1.BackupResponse_Header{Header: &opsv1.BackupHeader{
		Database: name, SizeBytes: size, TransactionId: txid,
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
	return stream.Send(&opsv1.BackupResponse{Part: &opsv1.BackupResponse_Trailer{Trailer: &opsv1.BackupTrailer{Sha256: h.Sum(nil)}}})
}
