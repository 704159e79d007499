
?
spam

spamÐ
 2		ü©ñÒMbP?B  *)š™™™™™É?retry-example-spam