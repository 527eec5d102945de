// Creates the project's topics with explicit settings, all in one Admin request and one JVM start;
// topics that exist are kept as they are (like kafka-topics --if-not-exists). The topics and
// their settings come from TOPICS_FILE (infra/kafka/topics.txt, generated from the topic list).
// REPLICAS (default 1) is every topic's replication factor; MIN_INSYNC, when given, replaces the
// file's min.insync.replicas (a cluster of three: 3 and 2; one broker: 1 and 1).
// Usage: java -cp <kafka libs> CreateTopics BOOTSTRAP PARTITIONS TOPICS_FILE [REPLICAS [MIN_INSYNC]]
//        (infra/kafka.sh topics, infra/kafka-cluster.sh topics)
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    int partitions = Integer.parseInt(args[1]);
    short replicas = args.length > 3 ? Short.parseShort(args[3]) : 1;
    String minInsync = args.length > 4 ? args[4] : null;
    Map<String, Integer> wanted = new LinkedHashMap<>();
    List<NewTopic> topics = new ArrayList<>();
    // Each line: NAME PARTITIONS (* for the PARTITIONS argument) key=value ...
    for (String line : Files.readAllLines(Path.of(args[2]))) {
      if (line.isBlank() || line.startsWith("#")) continue;
      String[] fields = line.trim().split("\\s+");
      int count = fields[1].equals("*") ? partitions : Integer.parseInt(fields[1]);
      Map<String, String> config = new HashMap<>();
      for (String setting : Arrays.copyOfRange(fields, 2, fields.length)) {
        String[] pair = setting.split("=", 2);
        config.put(pair[0], pair[1]);
      }
      if (minInsync != null) config.put("min.insync.replicas", minInsync);
      topics.add(new NewTopic(fields[0], count, replicas).configs(config));
      wanted.put(fields[0], count);
    }
    Map<String, Object> adminConfig = Map.of("bootstrap.servers", bootstrap,
        "request.timeout.ms", 15000, "default.api.timeout.ms", 30000);
    try (Admin admin = Admin.create(adminConfig)) {
      List<String> created = new ArrayList<>();
      List<String> existing = new ArrayList<>();
      for (Map.Entry<String, KafkaFuture<Void>> result : admin.createTopics(topics).values().entrySet()) {
        try {
          result.getValue().get();
          created.add(result.getKey());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
          existing.add(result.getKey());
        }
      }
      if (!existing.isEmpty()) {
        for (TopicDescription d : admin.describeTopics(existing).allTopicNames().get().values()) {
          if (d.partitions().size() != wanted.get(d.name())) {
            System.out.printf("[kafka] warning: %s exists with %d partitions, not %d; kept as it is%n",
                d.name(), d.partitions().size(), wanted.get(d.name()));
          }
          if (d.partitions().get(0).replicas().size() != replicas) {
            System.out.printf("[kafka] warning: %s exists with %d replicas, not %d; kept as it is%n",
                d.name(), d.partitions().get(0).replicas().size(), replicas);
          }
        }
      }
      System.out.printf("[kafka] topics ready on %s: %d (%d created, %d existed), %d replicas each%n",
          bootstrap, topics.size(), created.size(), existing.size(), replicas);
    } catch (ExecutionException e) {
      System.err.println("[kafka] error: could not create the topics on " + bootstrap + ": " + e.getCause());
      System.exit(1);
    }
  }
}
