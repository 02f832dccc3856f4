import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import java.util.List;
import org.h2.mvstore.MVStore;

/**
 * Runs mongo-java-server with its H2 (MVStore) backend on one file, for Baton's local stack.
 *
 * <p>Usage: {@code java -cp 'libs/*' BatonMongoServer.java <data file> <host> <port> <commit ms>}
 *
 * <p>Writes reach the file at most {@code commit ms} after they are acknowledged, as MongoDB's
 * journal does every 100 ms by default. SIGTERM closes the store, which writes everything.
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

    private BatonMongoServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: BatonMongoServer <data file> <host> <port> <commit ms>");
            System.exit(2);
        }
        MVStore store = new MVStore.Builder().fileName(args[0]).open();
        store.setAutoCommitDelay(Integer.parseInt(args[3]));
        H2Backend backend = new H2Backend(store);
        backend.version(REPORTED);
        MongoServer server = new MongoServer(backend);
        server.bind(args[1], Integer.parseInt(args[2]));
        // Shutting the server down also closes the backend, which writes the store.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "baton-shutdown"));
        System.out.println("mongo-java-server listening on " + args[1] + ":" + args[2]);
        Thread.currentThread().join();
    }
}
