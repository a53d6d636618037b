// Exercises tenantgate with pgjdbc, the PostgreSQL JDBC driver: startup parameters of its own
// (extra_float_digits, DateStyle, TimeZone), server-side prepared statements from the first
// execution on, batches, transactions, binary-transferred types, COPY, a query timeout that
// cancels, refusals, and a row tenant.
//
// Run by tests/java_client.rs (`java PgjdbcCheck.java`, pgjdbc on the CLASSPATH) with ACME_DSN,
// GLOBEX_DSN and HOOLI_DSN pointing at the proxy. Prints "ok" and exits 0 when everything
// behaves as on PostgreSQL itself.

import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.math.BigDecimal;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;
import org.postgresql.PGConnection;

public class PgjdbcCheck {
    static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    /** A JDBC connection for a postgresql:// URL; every statement is prepared on the server. */
    static Connection connect(String env) throws Exception {
        URI uri = new URI(System.getenv(env));
        String[] userInfo = uri.getUserInfo().split(":", 2);
        Properties props = new Properties();
        props.setProperty("user", userInfo[0]);
        props.setProperty("password", userInfo[1]);
        props.setProperty("prepareThreshold", "1");
        props.setProperty("sslmode", "disable");
        String url = "jdbc:postgresql://" + uri.getHost() + ":" + uri.getPort() + uri.getPath();
        return DriverManager.getConnection(url, props);
    }

    static long count(Connection c, String sql, int param) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, param);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    static void preparedStatements() throws Exception {
        try (Connection a = connect("ACME_DSN"); Connection g = connect("GLOBEX_DSN")) {
            String sql = "SELECT count(*) FROM orders WHERE id > ?";
            try (PreparedStatement pa = a.prepareStatement(sql);
                    PreparedStatement pg = g.prepareStatement(sql)) {
                // The same named statements, reused while the tenants take turns on the
                // one server connection.
                for (int i = 0; i < 5; i++) {
                    pa.setInt(1, 0);
                    pg.setInt(1, 0);
                    try (ResultSet ra = pa.executeQuery(); ResultSet rg = pg.executeQuery()) {
                        ra.next();
                        rg.next();
                        check(ra.getLong(1) == 2, "acme sees 2 rows, got " + ra.getLong(1));
                        check(rg.getLong(1) == 4, "globex sees 4 rows, got " + rg.getLong(1));
                    }
                }
            }
            // setTransactionIsolation sets the session's level: it must hold on the next
            // server connection, after globex had this one.
            a.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            try (Statement s = g.createStatement()) {
                s.execute("SELECT 1");
            }
            a.setAutoCommit(false);
            try (Statement s = a.createStatement();
                    ResultSet rs = s.executeQuery("SHOW transaction_isolation")) {
                rs.next();
                check(rs.getString(1).equals("serializable"), "isolation: " + rs.getString(1));
            }
            a.commit();
            a.setAutoCommit(true);
            try (Statement s = a.createStatement();
                    ResultSet rs = s.executeQuery("SHOW extra_float_digits")) {
                rs.next();
                // pgjdbc asks for 2 (or 3) in its startup packet; the server's default is 1.
                String digits = rs.getString(1);
                check(digits.equals("2") || digits.equals("3"), "pgjdbc's setting holds: " + digits);
            }
        }
    }

    static void typesBatchesAndTransactions() throws Exception {
        try (Connection a = connect("ACME_DSN")) {
            UUID u = UUID.randomUUID();
            try (PreparedStatement ps = a.prepareStatement(
                    "SELECT ?::uuid, ?::numeric, ?::int[], ?::bytea, now()::timestamptz")) {
                ps.setObject(1, u);
                ps.setBigDecimal(2, new BigDecimal("12.345"));
                ps.setArray(3, a.createArrayOf("int4", new Integer[] {1, 2, 3}));
                ps.setBytes(4, new byte[] {0, (byte) 255});
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    check(rs.getObject(1).equals(u), "uuid");
                    check(rs.getBigDecimal(2).equals(new BigDecimal("12.345")), "numeric");
                    Integer[] arr = (Integer[]) rs.getArray(3).getArray();
                    check(arr.length == 3 && arr[2] == 3, "int[]");
                    byte[] b = rs.getBytes(4);
                    check(b.length == 2 && b[1] == (byte) 255, "bytea");
                    check(rs.getTimestamp(5) != null, "timestamptz");
                }
            }
            a.setAutoCommit(false);
            try (PreparedStatement ins =
                    a.prepareStatement("INSERT INTO orders (id, item, amount) VALUES (?, ?, ?)")) {
                for (int i = 0; i < 20; i++) {
                    ins.setInt(1, 500 + i);
                    ins.setString(2, "batch " + i);
                    ins.setBigDecimal(3, BigDecimal.valueOf(i));
                    ins.addBatch();
                }
                ins.executeBatch();
            }
            a.commit();
            try (Statement s = a.createStatement()) {
                s.executeUpdate("INSERT INTO orders (id, item, amount) VALUES (900, 'x', 1)");
            }
            a.rollback();
            check(count(a, "SELECT count(*) FROM orders WHERE id >= ?", 500) == 20,
                    "the batch committed and the rolled-back insert is gone");
            PGConnection pg = a.unwrap(PGConnection.class);
            StringBuilder rows = new StringBuilder();
            for (int i = 0; i < 100; i++) {
                rows.append(600 + i).append("\tcopied ").append(i).append('\t').append(i).append('\n');
            }
            long copied = pg.getCopyAPI().copyIn(
                    "COPY orders (id, item, amount) FROM STDIN", new StringReader(rows.toString()));
            check(copied == 100, "COPY FROM STDIN copied " + copied);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            pg.getCopyAPI().copyOut("COPY (SELECT id FROM orders) TO STDOUT", out);
            long lines = out.toString().chars().filter(ch -> ch == '\n').count();
            check(lines == 122, "COPY TO STDOUT returned " + lines + " rows");
            try (Statement s = a.createStatement()) {
                s.executeUpdate("DELETE FROM orders WHERE id >= 500");
            }
            a.commit();
        }
    }

    static void timeoutCancelsAndRefusals() throws Exception {
        try (Connection a = connect("ACME_DSN")) {
            long started = System.nanoTime();
            try (Statement s = a.createStatement()) {
                s.setQueryTimeout(1);
                s.executeQuery("SELECT pg_sleep(5)");
                throw new AssertionError("the query was not cancelled");
            } catch (SQLException e) {
                check("57014".equals(e.getSQLState()), "cancelled: " + e.getSQLState());
            }
            check(System.nanoTime() - started < 4_000_000_000L, "the cancel took effect quickly");
            try (Statement s = a.createStatement()) {
                s.executeQuery("SELECT * FROM globex.orders");
                throw new AssertionError("another tenant's schema was readable");
            } catch (SQLException e) {
                check("42501".equals(e.getSQLState()), "refused: " + e.getSQLState());
            }
            check(count(a, "SELECT count(*) FROM orders WHERE id > ?", 0) == 2,
                    "usable after a cancel and a refusal");
        }
    }

    static void rowTenant() throws Exception {
        try (Connection h = connect("HOOLI_DSN")) {
            for (int i = 0; i < 3; i++) {
                long n = count(h, "SELECT count(*) FROM orders WHERE id > ?", 0);
                check(n == 3, "hooli sees its 3 rows, got " + n);
            }
            try (PreparedStatement ins =
                    h.prepareStatement("INSERT INTO orders (id, item, amount) VALUES (?, 'jdbc', 1)")) {
                ins.setInt(1, 7003);
                ins.executeUpdate();
            }
            try (Statement s = h.createStatement();
                    ResultSet rs = s.executeQuery("SELECT tenant_id FROM orders WHERE id = 7003")) {
                rs.next();
                check(rs.getString(1).equals("hooli"), "the proxy filled in the tenant column");
                s.executeUpdate("DELETE FROM orders WHERE id = 7003");
            }
        }
    }

    public static void main(String[] args) throws Exception {
        preparedStatements();
        typesBatchesAndTransactions();
        timeoutCancelsAndRefusals();
        rowTenant();
        System.out.println("ok");
    }
}
