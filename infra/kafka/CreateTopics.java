// Creates the Waitroom topics with explicit settings in one JVM start; existing ones are kept.
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    int partitions = Integer.parseInt(args[1]);
    List<String> events = List.of("EVENT_UPDATED", "EVENT_SOLD_OUT", "QUEUE_JOINED", "QUEUE_READY",
        "QUEUE_LEFT", "CHECKOUT_COMPLETED", "CHECKOUT_EXPIRED", "CHECKOUT_CANCELLED");
    List<NewTopic> topics = new ArrayList<>();
    for (String name : events) {
      Map<String, String> config = new HashMap<>(Map.of("min.insync.replicas", "1"));
      if (name.equals("EVENT_UPDATED")) {
        config.put("cleanup.policy", "compact");
      } else {
        config.put("cleanup.policy", "delete");
        config.put("retention.ms", "604800000");
      }
      topics.add(new NewTopic(name, partitions, (short) 1).configs(config));
      topics.add(new NewTopic(name + ".DLQ", 1, (short) 1).configs(Map.of(
          "cleanup.policy", "delete", "retention.ms", "1209600000", "min.insync.replicas", "1")));
    }
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
      int created = 0;
      for (Map.Entry<String, KafkaFuture<Void>> result : admin.createTopics(topics).values().entrySet()) {
        try {
          result.getValue().get();
          created++;
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
      }
      System.out.println("[kafka] topics ready: " + topics.size() + " (" + created + " created)");
    }
  }
}
