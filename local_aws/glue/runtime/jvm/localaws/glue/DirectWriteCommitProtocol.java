package localaws.glue;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.OutputCommitter;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import org.apache.spark.internal.io.FileNameSpec;
import org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spark's commit protocol, except that output to s3:// and s3a:// is written straight to its final keys.
 *
 * Spark's default (FileOutputCommitter) writes each file under _temporary/ and renames it into place;
 * through S3A a rename is a copy and a delete plus probes and listings per folder: 445 S3 requests for
 * the bench's 10,000-row CSV -> Parquet job, 104 without them. Glue 5.0 on AWS writes with EMRFS's
 * S3-optimized committer, which also puts files at their final keys (no _temporary/ copies). Here a
 * file is visible once its task has written it (S3A uploads it on close); a task that fails deletes
 * what it wrote; the job's commit writes _SUCCESS, as FileOutputCommitter does.
 *
 * Dynamic partition overwrite (spark.sql.sources.partitionOverwriteMode=dynamic), as EMR's S3-optimized
 * commit protocol does it, without Spark's .spark-staging-<job>/ folder and its renames: tasks write
 * their files in the final partition folders under names unique to the job (Spark's names carry the
 * job's UUID); the tasks' commit messages carry those names to the driver. At job commit, every object
 * under a folder the job wrote files to that is not one of them (what the partition held before) is
 * deleted, in bulk: one listing per partition folder and one DeleteObjects per 1,000 keys. Partitions
 * the job wrote nothing to are left alone. If the job fails before that deletion starts, the files of
 * its committed tasks are deleted and the partitions keep their old files; a failed task deletes its
 * own. Readers listing a partition while the job runs may see its old and new files together until the
 * job commits (EMR's protocol shows new files only at job commit). Like Spark's own dynamic overwrite,
 * no _SUCCESS is written (Spark writes it into the staging folder it then deletes).
 *
 * Other file systems and Parquet summary files keep Spark's own committer.
 *
 * Compiled at driver start by local_aws/glue/spark_worker.py with Janino (Spark's own compiler, so a
 * JRE is enough), which takes Java without generics: hence the raw collections and casts.
 */
public class DirectWriteCommitProtocol extends SQLHadoopMapReduceCommitProtocol {
    private static final Logger LOG = LoggerFactory.getLogger(DirectWriteCommitProtocol.class);
    private static final int DELETE_BATCH = 1000; // DeleteObjects takes up to 1,000 keys

    private final String outputPath;
    private final boolean dynamicPartitionOverwrite;
    private transient List writtenByTask;
    /** Driver side, dynamic overwrite: files of the tasks committed so far (deleted if the job aborts). */
    private transient List committedFiles;
    /** Driver side, dynamic overwrite: the job commit has started deleting partitions' old files. */
    private transient boolean replacing;

    public DirectWriteCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
        super(jobId, path, dynamicPartitionOverwrite);
        this.outputPath = path;
        this.dynamicPartitionOverwrite = dynamicPartitionOverwrite;
    }

    private boolean direct(Configuration conf) {
        if (outputPath == null) {
            return false;
        }
        String scheme = new Path(outputPath).toUri().getScheme();
        boolean s3 = "s3".equals(scheme) || "s3a".equals(scheme);
        boolean parquetSummaries = !"NONE".equalsIgnoreCase(conf.get("parquet.summary.metadata.level", "NONE"))
            || conf.getBoolean("parquet.enable.summary-metadata", false);
        return s3 && !parquetSummaries;
    }

    private boolean directDynamic(Configuration conf) {
        return dynamicPartitionOverwrite && direct(conf);
    }

    public OutputCommitter setupCommitter(TaskAttemptContext context) {
        if (direct(context.getConfiguration())) {
            return new DirectCommitter(new Path(outputPath));
        }
        return super.setupCommitter(context);
    }

    public void setupTask(TaskAttemptContext context) {
        super.setupTask(context);
        writtenByTask = new ArrayList();
    }

    public String newTaskTempFile(TaskAttemptContext context, scala.Option dir, FileNameSpec spec) {
        if (dir.isEmpty() && directDynamic(context.getConfiguration())) {
            // As Spark asserts: its dynamic overwrite replaces partition folders, so there must be one.
            throw new IllegalStateException(
                "The dataset to be written must be partitioned when dynamicPartitionOverwrite is true.");
        }
        // With DirectCommitter, Spark's own method answers <output>/<partition folder>/<job-unique name>.
        String file = super.newTaskTempFile(context, dir, spec);
        remember(file);
        return file;
    }

    /** Files for custom partition locations: in dynamic overwrite, written in place too and their folder replaced. */
    public String newTaskTempFileAbsPath(TaskAttemptContext context, String absoluteDir, FileNameSpec spec) {
        if (!directDynamic(context.getConfiguration())) {
            return super.newTaskTempFileAbsPath(context, absoluteDir, spec);
        }
        String file = new Path(absoluteDir, getFilename(context, spec)).toString();
        remember(file);
        return file;
    }

    private void remember(String file) {
        if (writtenByTask == null) {
            writtenByTask = new ArrayList();
        }
        writtenByTask.add(file);
    }

    public FileCommitProtocol.TaskCommitMessage commitTask(TaskAttemptContext context) {
        FileCommitProtocol.TaskCommitMessage message = super.commitTask(context);
        if (!directDynamic(context.getConfiguration())) {
            return message;
        }
        String[] files = new String[writtenByTask == null ? 0 : writtenByTask.size()];
        for (int i = 0; i < files.length; i++) {
            files[i] = (String) writtenByTask.get(i);
        }
        return new FilesWritten(message.obj(), files);
    }

    public void abortTask(TaskAttemptContext context) {
        super.abortTask(context);
        if (writtenByTask == null || !direct(context.getConfiguration())) {
            return;
        }
        for (int i = 0; i < writtenByTask.size(); i++) {
            Path file = new Path((String) writtenByTask.get(i));
            try {
                deleteObject(file, context.getConfiguration());
            } catch (Exception error) {
                // best effort, as Spark's own abortTask
            }
        }
        writtenByTask.clear();
    }

    /** On the driver, as each task's commit message arrives. */
    public void onTaskCommit(FileCommitProtocol.TaskCommitMessage message) {
        super.onTaskCommit(message);
        if (message instanceof FilesWritten) {
            if (committedFiles == null) {
                committedFiles = new ArrayList();
            }
            String[] files = ((FilesWritten) message).files;
            for (int i = 0; i < files.length; i++) {
                committedFiles.add(files[i]);
            }
        }
    }

    public void commitJob(JobContext context, scala.collection.Seq taskCommits) {
        Configuration conf = context.getConfiguration();
        if (!directDynamic(conf)) {
            super.commitJob(context, taskCommits);
            return;
        }
        // Partition folder -> the objects (bucket/key) this job wrote there.
        Map written = new HashMap();
        scala.collection.Iterator messages = taskCommits.iterator();
        while (messages.hasNext()) {
            Object message = messages.next();
            if (!(message instanceof FilesWritten)) {
                continue;
            }
            String[] files = ((FilesWritten) message).files;
            for (int i = 0; i < files.length; i++) {
                Path file = new Path(files[i]);
                Path folder = file.getParent();
                Set objects = (Set) written.get(folder);
                if (objects == null) {
                    objects = new HashSet();
                    written.put(folder, objects);
                }
                objects.add(objectId(file));
            }
        }
        try {
            // Listed before anything is deleted: a failure here still leaves every partition as it was.
            List old = new ArrayList();
            Iterator folders = written.entrySet().iterator();
            while (folders.hasNext()) {
                Map.Entry entry = (Map.Entry) folders.next();
                List present = listFiles((Path) entry.getKey(), conf);
                for (int i = 0; i < present.size(); i++) {
                    Path object = (Path) present.get(i);
                    if (!((Set) entry.getValue()).contains(objectId(object))) {
                        old.add(object);
                    }
                }
            }
            replacing = true;
            deleteFiles(old, conf);
            LOG.info("Dynamic partition overwrite of " + outputPath + ": replaced " + written.size()
                + " partition folder(s) in place, deleting " + old.size() + " earlier object(s)");
        } catch (IOException error) {
            throw new java.io.UncheckedIOException(error);
        } catch (RuntimeException error) {
            throw error;
        } catch (Exception error) {
            throw new RuntimeException(error);
        }
    }

    public void abortJob(JobContext context) {
        Configuration conf = context.getConfiguration();
        if (directDynamic(conf) && committedFiles != null) {
            if (replacing) {
                // Some old files may be gone already: the new ones are then all that is left of those partitions.
                LOG.warn("Dynamic partition overwrite of " + outputPath + " failed while deleting the partitions'"
                    + " earlier files; the files this job wrote are kept");
            } else {
                List files = new ArrayList();
                for (int i = 0; i < committedFiles.size(); i++) {
                    files.add(new Path((String) committedFiles.get(i)));
                }
                try {
                    deleteFiles(files, conf);
                } catch (Exception error) {
                    LOG.warn("Could not delete the files of aborted job writing " + outputPath, error);
                }
            }
            committedFiles = null;
        }
        super.abortJob(context);
    }

    // ---- S3 through S3A's own client (its FileSystem calls add probes and folder markers per object) ----

    private static Object s3Client(FileSystem fs, String purpose) throws Exception {
        try {
            return fs.getClass().getMethod("getAmazonS3ClientForTesting", new Class[] {String.class})
                .invoke(fs, new Object[] {purpose});
        } catch (NoSuchMethodException notS3A) {
            return null;
        }
    }

    private static Object invoke(Object target, String name, Class[] types, Object[] arguments) throws Exception {
        Method method = target.getClass().getMethod(name, types);
        try {
            return method.invoke(target, arguments);
        } catch (InvocationTargetException error) {
            Throwable cause = error.getCause();
            if (cause instanceof Exception) {
                throw (Exception) cause;
            }
            throw error;
        }
    }

    /** The object key of a path, as S3A derives it (the URI's decoded path without its leading slash). */
    private static String key(Path path) {
        return path.toUri().getPath().substring(1);
    }

    private static String objectId(Path path) {
        return path.toUri().getHost() + "/" + key(path);
    }

    /** Every object under folder (recursively, folder markers included): one LIST per 1,000 keys on S3A. */
    private static List listFiles(Path folder, Configuration conf) throws Exception {
        List found = new ArrayList();
        FileSystem fs = folder.getFileSystem(conf);
        Object client = s3Client(fs, "list a partition's objects");
        if (client == null) {
            if (!fs.exists(folder)) {
                return found;
            }
            RemoteIterator files = fs.listFiles(folder, true);
            while (files.hasNext()) {
                found.add(((LocatedFileStatus) files.next()).getPath());
            }
            return found;
        }
        ClassLoader loader = client.getClass().getClassLoader();
        Class requestClass = Class.forName("com.amazonaws.services.s3.model.ListObjectsV2Request", true, loader);
        String bucket = folder.toUri().getHost();
        String prefix = key(folder) + "/";
        String token = null;
        do {
            Object request = requestClass.getConstructor(new Class[0]).newInstance(new Object[0]);
            invoke(request, "setBucketName", new Class[] {String.class}, new Object[] {bucket});
            invoke(request, "setPrefix", new Class[] {String.class}, new Object[] {prefix});
            if (token != null) {
                invoke(request, "setContinuationToken", new Class[] {String.class}, new Object[] {token});
            }
            Object result = invoke(client, "listObjectsV2", new Class[] {requestClass}, new Object[] {request});
            List summaries = (List) invoke(result, "getObjectSummaries", new Class[0], new Object[0]);
            for (int i = 0; i < summaries.size(); i++) {
                String objectKey = (String) invoke(summaries.get(i), "getKey", new Class[0], new Object[0]);
                // The URI constructor quotes what needs it, so key() gives back objectKey exactly.
                found.add(new Path(new java.net.URI(folder.toUri().getScheme(), bucket, "/" + objectKey, null, null)));
            }
            boolean truncated = ((Boolean) invoke(result, "isTruncated", new Class[0], new Object[0])).booleanValue();
            token = truncated
                ? (String) invoke(result, "getNextContinuationToken", new Class[0], new Object[0]) : null;
        } while (token != null);
        return found;
    }

    /** Deletes the objects, on S3A with one DeleteObjects request per bucket and 1,000 keys. */
    private static void deleteFiles(List paths, Configuration conf) throws Exception {
        if (paths.isEmpty()) {
            return;
        }
        Path first = (Path) paths.get(0);
        FileSystem fs = first.getFileSystem(conf);
        Object client = s3Client(fs, "delete objects in bulk");
        if (client == null) {
            for (int i = 0; i < paths.size(); i++) {
                Path path = (Path) paths.get(i);
                path.getFileSystem(conf).delete(path, false);
            }
            return;
        }
        Map byBucket = new HashMap();
        for (int i = 0; i < paths.size(); i++) {
            Path path = (Path) paths.get(i);
            List keys = (List) byBucket.get(path.toUri().getHost());
            if (keys == null) {
                keys = new ArrayList();
                byBucket.put(path.toUri().getHost(), keys);
            }
            keys.add(key(path));
        }
        Class requestClass = Class.forName(
            "com.amazonaws.services.s3.model.DeleteObjectsRequest", true, client.getClass().getClassLoader());
        Iterator buckets = byBucket.entrySet().iterator();
        while (buckets.hasNext()) {
            Map.Entry entry = (Map.Entry) buckets.next();
            List keys = (List) entry.getValue();
            for (int start = 0; start < keys.size(); start += DELETE_BATCH) {
                int end = Math.min(keys.size(), start + DELETE_BATCH);
                String[] batch = new String[end - start];
                for (int i = start; i < end; i++) {
                    batch[i - start] = (String) keys.get(i);
                }
                Object request = requestClass.getConstructor(new Class[] {String.class})
                    .newInstance(new Object[] {entry.getKey()});
                invoke(request, "withKeys", new Class[] {String[].class}, new Object[] {batch});
                invoke(request, "setQuiet", new Class[] {boolean.class}, new Object[] {Boolean.TRUE});
                // A key it could not delete raises MultiObjectDeleteException.
                invoke(client, "deleteObjects", new Class[] {requestClass}, new Object[] {request});
            }
        }
    }

    /**
     * Deletes the object at `file`. On S3A, through its S3 client: S3A's own delete would put a folder
     * marker object in its place when the folder ends up empty, which AWS's committer never leaves.
     */
    private static void deleteObject(Path file, Configuration conf) throws Exception {
        FileSystem fs = file.getFileSystem(conf);
        Object client = s3Client(fs, "abort a task's output");
        if (client == null) {
            fs.delete(file, false);
            return;
        }
        invoke(client, "deleteObject", new Class[] {String.class, String.class},
            new Object[] {file.toUri().getHost(), key(file)});
    }

    /** A task's commit message in dynamic overwrite: Spark's own, plus the files the task wrote. */
    public static class FilesWritten extends FileCommitProtocol.TaskCommitMessage {
        public final String[] files;

        public FilesWritten(Object sparkMessage, String[] files) {
            super(sparkMessage);
            this.files = files;
        }
    }

    /** Tasks write in place, so there is nothing to set up, move or clean; the job's commit marks success. */
    public static class DirectCommitter extends OutputCommitter {
        private final Path output;

        public DirectCommitter(Path output) {
            this.output = output;
        }

        public void setupJob(JobContext context) {
        }

        public void commitJob(JobContext context) throws IOException {
            Configuration conf = context.getConfiguration();
            FileSystem fs = output.getFileSystem(conf);
            if (conf.getBoolean("mapreduce.fileoutputcommitter.marksuccessfuljobs", true)) {
                fs.create(new Path(output, "_SUCCESS"), true).close();
            } else {
                fs.mkdirs(output);
            }
        }

        public void setupTask(TaskAttemptContext context) {
        }

        public boolean needsTaskCommit(TaskAttemptContext context) {
            return false;
        }

        public void commitTask(TaskAttemptContext context) {
        }

        public void abortTask(TaskAttemptContext context) {
        }
    }
}
