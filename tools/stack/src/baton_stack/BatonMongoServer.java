import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.AbstractUniqueIndex;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

/**
 * Runs mongo-java-server with its H2 (MVStore) backend on one file, for Baton's local stack.
 *
 * <p>Usage: {@code java -cp 'libs/*' BatonMongoServer.java <data file> <host> <port> <commit ms>}
 *
 * <p>Writes reach the file at most {@code commit ms} after they are acknowledged, as MongoDB's
 * journal does every 100 ms by default. SIGTERM closes the store, which writes everything.
 *
 * <p>Documents and index keys are stored as BSON ({@link DocumentType}, {@link IndexKeyType}) and
 * index entries are ordered by value, so a store written by the stock H2 backend, which stores
 * them with Java serialization and orders them by its bytes, cannot be opened by this launcher.
 */
public final class BatonMongoServer {

    /** What the server reports in its handshake: MongoDB 5.0's wire version, 13. */
    private static final MongoVersion REPORTED = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(5, 0, 0);
        }

        @Override
        public int getWireVersion() {
            // PyMongo 4.x refuses servers below wire version 9 (MongoDB 4.4); mongo-java-server's
            // own MONGO_5_0 constant reports 8.
            return 13;
        }
    };

    /** The one store of this process; the backend's constructor already opens databases. */
    private static MVStore store;

    private BatonMongoServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: BatonMongoServer <data file> <host> <port> <commit ms>");
            System.exit(2);
        }
        // A page cache of 48 MB rather than H2's 16 MB: evicted pages are read and decoded again.
        //
        // No automatic compaction (fill rate 0): H2's background writer rewrites chunks of the
        // store while commands change it, which can fail ("Position 0" in
        // FileStore.rewriteChunks) and close the store for every later command. Chunks without
        // live pages are still dropped at every commit.
        store = new MVStore.Builder()
                .fileName(args[0])
                .cacheSize(48)
                .autoCompactFillRate(0)
                .open();
        store.setAutoCommitDelay(Integer.parseInt(args[3]));
        H2Backend backend = new Backend(store);
        backend.version(REPORTED);
        MongoServer server = new MongoServer(backend);
        server.bind(args[1], Integer.parseInt(args[2]));
        // Shutting the server down also closes the backend, which writes the store.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "baton-shutdown"));
        System.out.println("mongo-java-server listening on " + args[1] + ":" + args[2]);
        Thread.currentThread().join();
    }

    /**
     * Index keys ({@link KeyValue}), ordered by their values as mongo-java-server compares values,
     * and stored as BSON. H2's default type orders objects it does not know by comparing their
     * Java serializations, which is not mongo-java-server's order of values.
     */
    static final class IndexKeyType extends ObjectDataType {
        private static final Comparator<Object> VALUES = ValueComparator.ascWithoutListHandling();
        private static final byte BSON = 1;
        private static final byte SERIALIZED = 0; // a key with a value BSON cannot hold

        @Override
        public int compare(Object a, Object b) {
            if (a instanceof KeyValue x && b instanceof KeyValue y) {
                int shared = Math.min(x.size(), y.size());
                for (int i = 0; i < shared; i++) {
                    int order = VALUES.compare(x.get(i), y.get(i));
                    if (order != 0) {
                        return order;
                    }
                }
                return Integer.compare(x.size(), y.size());
            }
            return super.compare(a, b);
        }

        @Override
        public void write(WriteBuffer buffer, Object key) {
            Document values = key instanceof KeyValue keyValue ? asDocument(keyValue) : null;
            if (values == null) {
                buffer.put(SERIALIZED);
                super.write(buffer, key);
            } else {
                buffer.put(BSON);
                writeBson(buffer, values);
            }
        }

        @Override
        public Object read(ByteBuffer buffer) {
            if (buffer.get() == SERIALIZED) {
                return super.read(buffer);
            }
            return new KeyValue(new ArrayList<>(readBson(buffer).values()));
        }

        /** The key's values as {"0": ..., "1": ...}, or null when one is not a BSON value. */
        private static Document asDocument(KeyValue key) {
            Document values = new Document();
            int i = 0;
            for (Object value : key) {
                if (value instanceof Missing) {
                    return null;
                }
                values.put(Integer.toString(i++), value);
            }
            return values;
        }
    }

    /** Documents stored as BSON, as they travel on the wire, rather than by Java serialization. */
    static final class DocumentType extends BasicDataType<Document> {
        @Override
        public int getMemory(Document document) {
            return 64 + 48 * document.size(); // an estimate, as H2's own types give
        }

        @Override
        public void write(WriteBuffer buffer, Document document) {
            writeBson(buffer, document);
        }

        @Override
        public Document read(ByteBuffer buffer) {
            return readBson(buffer);
        }

        @Override
        public Document[] createStorage(int size) {
            return new Document[size];
        }
    }

    /** Each writing thread's encode buffer, kept from one document to the next. */
    private static final ThreadLocal<ByteBuf> ENCODE_BUFFER =
            ThreadLocal.withInitial(() -> Unpooled.buffer(64 * 1024));

    static void writeBson(WriteBuffer buffer, Document document) {
        ByteBuf bson = ENCODE_BUFFER.get();
        bson.clear();
        BsonEncoder.encodeDocument(document, bson);
        buffer.putVarInt(bson.readableBytes());
        buffer.put(bson.nioBuffer());
        if (bson.capacity() > 1024 * 1024) {
            // One very large document does not keep its buffer alive in the thread.
            ENCODE_BUFFER.remove();
        }
    }

    static Document readBson(ByteBuffer buffer) {
        int length = DataUtils.readVarInt(buffer);
        ByteBuffer bson = buffer.slice();
        bson.limit(length);
        buffer.position(buffer.position() + length);
        return BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bson));
    }

    /** The H2 backend, with databases whose indexes use {@link IndexKeyType}. */
    static final class Backend extends H2Backend {
        Backend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new Database(databaseName, getCursorRegistry());
        }
    }

    static final class Database extends H2Database {
        Database(String databaseName, CursorRegistry cursors) {
            super(databaseName, store, cursors);
        }

        @Override
        protected MongoCollection<Object> openOrCreateCollection(
                String collectionName, CollectionOptions options) {
            // The map names are the stock backend's, so dropping and renaming find them.
            String name = getFullCollectionNamespace(collectionName);
            MVMap<Object, Document> documents = store.openMap(
                    "databases." + name,
                    new MVMap.Builder<Object, Document>().valueType(new DocumentType()));
            MVMap<String, Object> meta = store.openMap("meta." + name);
            return new CopyingCollection(this, collectionName, options, documents, meta, cursorRegistry);
        }

        @Override
        protected Index<Object> openOrCreateUniqueIndex(
                String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            String name = getFullCollectionNamespace(collectionName) + "._index_" + indexName;
            MVMap<KeyValue, Object> map =
                    store.openMap(name, new MVMap.Builder<KeyValue, Object>().keyType(new IndexKeyType()));
            return new UniqueIndex(map, indexName, keys, sparse);
        }
    }

    /**
     * H2's collection, except that queries hand out copies of the stored documents, and that it
     * does not keep the collection's data size.
     *
     * <p>Copies: an update changes the document its query handed it in place before putting it
     * back (AbstractMongoCollection.updateDocument). On the stored document itself that raced
     * with whatever else was encoding it, a reply or the store's background writer: a
     * ConcurrentModificationException, after which H2 closes the store.
     *
     * <p>Data size: keeping it encodes every document once more, for a figure nothing of Baton
     * reads (collStats and dbStats report a size of 0).
     */
    static final class CopyingCollection extends H2Collection {
        CopyingCollection(
                MongoDatabase database,
                String name,
                CollectionOptions options,
                MVMap<Object, Document> documents,
                MVMap<String, Object> meta,
                CursorRegistry cursors) {
            super(database, name, options, documents, meta, cursors);
        }

        @Override
        protected QueryResult queryDocuments(
                Document query, Document orderBy, int skip, int limit, int batchSize, Document fields) {
            QueryResult found = super.queryDocuments(query, orderBy, skip, limit, batchSize, fields);
            List<Document> copies = new ArrayList<>();
            for (Document document : found) {
                copies.add(document.cloneDeeply());
            }
            return new QueryResult(copies, found.getCursorId());
        }

        @Override
        protected boolean tracksDataSize() {
            return false;
        }
    }

    /** A unique index on one H2 map (what the stock backend's index does, on an ordered map). */
    static final class UniqueIndex extends AbstractUniqueIndex<Object> {
        private final MVMap<KeyValue, Object> map;

        UniqueIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
            this.map = map;
        }

        @Override
        protected Object removeDocument(KeyValue key) {
            return map.remove(key);
        }

        @Override
        protected boolean putKeyPosition(KeyValue key, Object position) {
            return map.putIfAbsent(key, Missing.ofNullable(position)) == null;
        }

        @Override
        protected Iterable<Map.Entry<KeyValue, Object>> getIterable() {
            return map.entrySet();
        }

        @Override
        protected Object getPosition(KeyValue key) {
            return map.get(key);
        }

        @Override
        public long getCount() {
            return map.sizeAsLong();
        }

        @Override
        public boolean isEmpty() {
            return map.isEmpty();
        }

        @Override
        public long getDataSize() {
            return getCount();
        }
    }
}
