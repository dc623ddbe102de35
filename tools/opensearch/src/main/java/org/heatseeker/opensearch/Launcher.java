package org.heatseeker.opensearch;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real OpenSearch node in one JVM, for heatseeker's tests (the way embedded Elasticsearch nodes
 * were started): the server jar and its classpath plugins (netty4 for HTTP and transport,
 * analysis-common), no distribution, no security manager.
 *
 * <p>Arguments are settings, {@code key=value} (path.home, node.name, http.port, ...). The node
 * stops on SIGTERM/SIGINT (a shutdown hook closes it cleanly).
 */
public final class Launcher {

    /** A Node that takes classpath plugins (Node's own constructor for them is protected). */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got " + arg);
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();
        Path home = Paths.get(settings.get("path.home"));
        Path config = home.resolve("config");
        java.nio.file.Files.createDirectories(config);
        Environment env = InternalSettingsPreparer.prepareEnvironment(
                settings, Map.of(), config, () -> settings.get("node.name", "heatseeker"));
        LogConfigurator.configureWithoutConfig(env.settings());

        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);
        Node node = new ClasspathNode(env, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "heatseeker-opensearch-shutdown"));
        node.start();
        System.out.println("heatseeker-opensearch: node " + settings.get("node.name") + " started");
        stopped.await();
    }
}
