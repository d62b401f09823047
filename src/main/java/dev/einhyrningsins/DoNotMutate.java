package dev.einhyrningsins;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Mutation testing (PIT, in {@code mvn verify}) leaves this method or class unmutated: every
 * mutant of it is equivalent, it cannot change what the program does. {@link #value()} says
 * why, in one line. PIT honours any annotation of this simple name with class retention; no
 * code reads it.
 */
@Retention(RetentionPolicy.CLASS)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.TYPE})
public @interface DoNotMutate {
    /** Why no mutant of it can change behaviour. */
    String value();
}
