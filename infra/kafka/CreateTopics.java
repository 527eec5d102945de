// Creates the project's topics with explicit settings, all in one Admin request and one JVM start;
// topics that exist are kept as they are (like kafka-topics --if-not-exists).
// Usage: java -cp <kafka libs> CreateTopics BOOTSTRAP PARTITIONS   (infra/kafka.sh topics)
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
  static final List<String> TOPICS = List.of("EVENT_UPDATED", "EVENT_SOLD_OUT", "QUEUE_JOINED",
      "QUEUE_READY", "QUEUE_LEFT", "CHECKOUT_COMPLETED", "CHECKOUT_EXPIRED", "CHECKOUT_CANCELLED");
  static final String WEEK_MS = "604800000";
  static final String TWO_WEEKS_MS = "1209600000";

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    int partitions = Integer.parseInt(args[1]);
    Map<String, Integer> wanted = new LinkedHashMap<>();
    List<NewTopic> topics = new ArrayList<>();
    for (String name : TOPICS) {
      Map<String, String> config = new HashMap<>(Map.of("min.insync.replicas", "1"));
      if (name.equals("EVENT_UPDATED")) {
        config.put("cleanup.policy", "compact");  // the latest state of each event, by key
      } else {
        config.put("cleanup.policy", "delete");
        config.put("retention.ms", WEEK_MS);
      }
      topics.add(new NewTopic(name, partitions, (short) 1).configs(config));
      topics.add(new NewTopic(name + ".DLQ", 1, (short) 1).configs(Map.of(
          "cleanup.policy", "delete", "retention.ms", TWO_WEEKS_MS, "min.insync.replicas", "1")));
      wanted.put(name, partitions);
      wanted.put(name + ".DLQ", 1);
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
        }
      }
      System.out.printf("[kafka] topics ready on %s: %d (%d created, %d existed)%n",
          bootstrap, topics.size(), created.size(), existing.size());
    } catch (ExecutionException e) {
      System.err.println("[kafka] error: could not create the topics on " + bootstrap + ": " + e.getCause());
      System.exit(1);
    }
  }
}
